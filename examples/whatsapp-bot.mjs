// A real WhatsApp connection whose auth state lives in baileys-rust-auth.
// It prints a QR code string to scan with WhatsApp (Settings → Linked devices), then answers
// "ping" with "pong". Stop it and start it again: it reconnects without a new QR code.
//
//   node examples/whatsapp-bot.mjs [session-id]
//
// Needs a network connection to WhatsApp, and a terminal QR renderer if you want a picture:
// `npm install qrcode-terminal` (optional; without it the raw QR string is printed).
import { Boom } from '@hapi/boom'
import makeWASocket, { DisconnectReason } from 'baileys'
import { useRustAuthState } from 'baileys-rust-auth'

const sessionId = process.argv[2] ?? 'my-bot'

async function showQr(qr) {
  try {
    const { default: qrcode } = await import('qrcode-terminal')
    qrcode.generate(qr, { small: true })
  } catch {
    console.log(`Scan this QR code (render it with any QR tool): ${qr}`)
  }
}

async function connect() {
  // Drop-in for useMultiFileAuthState: SQLite file ./baileys-auth.db unless
  // BAILEYS_AUTH_STORE names another store.
  // On a store other processes can open, this handle owns the session (docs/ownership.md):
  // a second copy of this bot is refused ERR_SESSION_LOCKED instead of fighting over it.
  const { state, saveCreds, close, lost, deleteSession } = await useRustAuthState(sessionId)
  const sock = makeWASocket({ auth: state })
  // Another process took the session over (takeover: true), or the lease could not be renewed:
  // this socket must stop, or WhatsApp sees two of us.
  let lostSession = false
  lost.then((err) => {
    console.log(`${err.message}; stopping this socket`)
    lostSession = true
    sock.end(undefined)
  })

  // Every creds change must be saved, or the next start needs a new QR code.
  sock.ev.on('creds.update', saveCreds)

  sock.ev.on('connection.update', async ({ connection, lastDisconnect, qr }) => {
    if (qr) await showQr(qr)
    if (connection === 'open') console.log(`connected as ${state.creds.me?.id}`)
    if (connection === 'close') {
      const status = new Boom(lastDisconnect?.error)?.output?.statusCode
      // This socket is done: stop saving its creds, and release its session (other sessions
      // on the same store, in a bot that runs many, go on; the store closes with the last).
      sock.ev.off('creds.update', saveCreds)
      if (lostSession) {
        await close() // another process runs this session now: do not reconnect
      } else if (status === DisconnectReason.loggedOut) {
        // The phone unlinked this device: its keys are worthless now.
        console.log('logged out; deleting the session')
        await deleteSession() // as its owner
        await close()
      } else {
        console.log(`connection closed (${status}); reconnecting`)
        await close()
        connect()
      }
    }
  })

  sock.ev.on('messages.upsert', async ({ messages, type }) => {
    if (type !== 'notify') return
    for (const msg of messages) {
      const text = msg.message?.conversation ?? msg.message?.extendedTextMessage?.text
      if (!msg.key.fromMe && text?.trim().toLowerCase() === 'ping') {
        await sock.sendMessage(msg.key.remoteJid, { text: 'pong' }, { quoted: msg })
      }
    }
  })
}

connect()
