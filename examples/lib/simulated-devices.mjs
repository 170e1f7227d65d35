// Simulated WhatsApp devices: REAL Baileys Signal crypto (libsignal sessions + sender keys)
// over any auth-state store, with this file standing in for the WhatsApp server (pre-key
// bundles, message delivery). Used by examples/two-devices.mjs and by the test suite to
// prove a store correct end to end, without a network or a phone.
//
// Only dependency is the `baileys` module, passed in by the caller (it is ESM-only and
// resolved from wherever the test runs), plus node built-ins.
//
// Every key read/write goes through `auth.state.keys` wrapped by Baileys'
// addTransactionCapability, and the wrapping transactions mirror Baileys' socket:
//   - repository methods (encrypt/decrypt/inject/...) open their own transactions,
//   - relayMessage wraps a whole send (incl. sender-key-memory) in transaction(…, meId),
//   - uploadPreKeys wraps pre-key generation in transaction(…, meId).
import assert from 'node:assert/strict'

// Baileys' logger interface (pino-like). Silent, but keeps warn/error so tests can inspect them.
const makeLogger = (sink) => {
  const noop = () => {}
  const logger = {
    level: 'silent',
    trace: noop, debug: noop, info: noop,
    warn: (...args) => sink.push({ level: 'warn', args }),
    error: (...args) => sink.push({ level: 'error', args }),
    fatal: (...args) => sink.push({ level: 'fatal', args }),
    child: () => logger,
  }
  return logger
}

/**
 * @param baileys  the imported `baileys` module
 * @param auth     { state: { creds, keys }, saveCreds } e.g. from useMultiFileAuthState
 * @param opts.jid PN jid of this device, e.g. '1111111111@s.whatsapp.net' (device 0)
 * @param opts.lid optional LID jid, e.g. '9911111111@lid'. When given, peers learn the
 *                 PN->LID mapping and sessions get stored under the LID address, as in rc14.
 * @param opts.preKeyCount pre-keys to generate on first use (Baileys uploads 812; tests need few)
 * @param opts.pnToLIDFunc optional stand-in for the socket's USync LID lookup
 */
export async function makeDevice (baileys, auth, { jid, lid, preKeyCount = 30, pnToLIDFunc } = {}) {
  assert.ok(jid, 'makeDevice: jid required')
  const { creds } = auth.state
  const logs = []
  const logger = makeLogger(logs)
  const { maxCommitRetries, delayBetweenTriesMs } = baileys.DEFAULT_CONNECTION_CONFIG.transactionOpts
  const keys = baileys.addTransactionCapability(auth.state.keys, logger, { maxCommitRetries, delayBetweenTriesMs })
  // rc14 does not re-export makeLibSignalRepository from the package root; the default socket config carries it.
  const makeRepo = baileys.makeLibSignalRepository ?? baileys.DEFAULT_CONNECTION_CONFIG.makeSignalRepository
  const repo = makeRepo({ creds, keys }, logger, pnToLIDFunc)

  // Identity comes from persisted creds (initAuthCreds ran once, in the store's loader).
  // We only "register" the device: a reopened store must already carry the same identity.
  if (!creds.me) {
    creds.me = { id: jid, ...(lid ? { lid } : {}) }
    await auth.saveCreds()
  } else {
    assert.equal(creds.me.id, jid, 'makeDevice: store belongs to another jid')
  }

  // Resumable: only the very first makeDevice generates pre-keys (creds counters still at 1).
  // Reopens must reuse the stored ones, otherwise peers' pending pkmsg would break.
  if (creds.nextPreKeyId === 1 && creds.firstUnuploadedPreKeyId === 1) {
    const update = await keys.transaction(async () => {
      const { update } = await baileys.getNextPreKeys({ creds, keys }, preKeyCount)
      return update
    }, creds.me.id)
    // Baileys emits creds.update inside the tx; we persist after commit so creds never
    // point past keys that were not written.
    Object.assign(creds, update)
    await auth.saveCreds()
  }

  const handedOut = new Set() // the server hands each one-time pre-key to a single peer
  const pub = (k) => baileys.generateSignalPubKey(k)

  return {
    jid,
    lid,
    // Address peers use for sender keys / group authorship (lid addressing mode when available).
    address: lid ?? jid,
    auth, keys, repo, logs, baileys,
    /** What the WA server would return from an `encrypt` key-fetch iq for this device. */
    async bundle () {
      const ids = []
      for (let i = 1; i < creds.nextPreKeyId; i++) ids.push(String(i))
      const stored = await keys.get('pre-key', ids)
      const id = ids.find((i) => stored[i] && !handedOut.has(i))
      assert.ok(id, 'bundle: no unused pre-key left in store')
      handedOut.add(id)
      return {
        registrationId: creds.registrationId,
        identityKey: pub(creds.signedIdentityKey.public),
        signedPreKey: {
          keyId: creds.signedPreKey.keyId,
          publicKey: pub(creds.signedPreKey.keyPair.public),
          signature: creds.signedPreKey.signature,
        },
        preKey: { keyId: Number(id), publicKey: pub(stored[id].public) },
      }
    },
  }
}

// USync device/LID lookup stand-in: the sender learns the receiver's PN->LID mapping.
const learnMapping = async (learner, peer) => {
  if (peer.lid) await learner.repo.lidMapping.storeLIDPNMappings([{ lid: peer.lid, pn: peer.jid }])
}

// decode-wa-message: decrypt under the LID address when a mapping is known.
const decryptionJid = async (receiver, jid) =>
  (receiver.baileys.isLidUser(jid) ? jid : (await receiver.repo.lidMapping.getLIDForPN(jid)) ?? jid)

/** Establish an outgoing session sender -> receiver from a fresh pre-key bundle (assertSessions). */
export async function startSession (sender, receiver) {
  await learnMapping(sender, receiver)
  await sender.repo.injectE2ESession({ jid: receiver.jid, session: await receiver.bundle() })
}

// One 1:1 hop of an already-encoded WA message: encrypt on sender, decrypt on receiver.
async function relay (sender, receiver, message) {
  const { encodeWAMessage, unpadRandomMax16, proto } = sender.baileys
  // relayMessage holds a transaction keyed by meId around encryption (nested tx is reused).
  const { type, ciphertext } = await sender.keys.transaction(
    () => sender.repo.encryptMessage({ jid: receiver.jid, data: encodeWAMessage(message) }),
    sender.auth.state.creds.me.id,
  )
  // The envelope's sender_lid lets the receiver store the mapping before decrypting.
  await learnMapping(receiver, sender)
  const plain = await receiver.repo.decryptMessage({
    jid: await decryptionJid(receiver, sender.jid), type, ciphertext,
  })
  return { type, message: proto.Message.decode(unpadRandomMax16(plain)) }
}

/** Encrypt text sender -> receiver, decrypt, assert equal. Returns { type: 'pkmsg' | 'msg' }. */
export async function sendDirect (sender, receiver, text) {
  const { type, message } = await relay(sender, receiver, { conversation: text })
  assert.equal(message.conversation, text)
  return { type }
}

/**
 * Group send as relayMessage does it: one skmsg for everyone, plus the sender-key
 * distribution message (SKDM) 1:1-encrypted only to devices not yet in the persisted
 * 'sender-key-memory' (so after a reopen, no SKDM is resent and the stored sender keys must work).
 * Missing 1:1 sessions to receivers are started on demand from their bundle().
 * Returns { skdmTo: [addresses that received an SKDM] }.
 */
export async function sendGroup (sender, receivers, groupJid, text) {
  const { encodeWAMessage, unpadRandomMax16, proto } = sender.baileys
  const meId = sender.auth.state.creds.me.id
  const skdms = []
  const ciphertext = await sender.keys.transaction(async () => {
    const { [groupJid]: memory = {} } = await sender.keys.get('sender-key-memory', [groupJid])
    const { ciphertext, senderKeyDistributionMessage } = await sender.repo.encryptGroupMessage({
      group: groupJid, meId: sender.address, data: encodeWAMessage({ conversation: text }),
    })
    // Group participants are addressed by LID when known (lid addressing mode), so are the SKDMs.
    for (const r of receivers) {
      if (memory[r.address]) continue
      // assertSessions: fetch a bundle only if no session exists yet.
      if (!(await sender.repo.validateSession(r.address)).exists) await startSession(sender, r)
      const { type, ciphertext } = await sender.repo.encryptMessage({
        jid: r.address,
        data: encodeWAMessage({
          senderKeyDistributionMessage: { groupId: groupJid, axolotlSenderKeyDistributionMessage: senderKeyDistributionMessage },
        }),
      })
      skdms.push({ r, type, ciphertext })
      memory[r.address] = true
    }
    await sender.keys.set({ 'sender-key-memory': { [groupJid]: memory } })
    return ciphertext
  }, meId)

  // Receivers: the per-device enc node (carrying the SKDM) is decrypted before the skmsg.
  for (const { r, type, ciphertext: enc } of skdms) {
    await learnMapping(r, sender)
    const plain = await r.repo.decryptMessage({ jid: await decryptionJid(r, sender.address), type, ciphertext: enc })
    const msg = proto.Message.decode(unpadRandomMax16(plain))
    assert.ok(msg.senderKeyDistributionMessage, 'expected SKDM')
    await r.repo.processSenderKeyDistributionMessage({ authorJid: sender.address, item: msg.senderKeyDistributionMessage })
  }
  for (const r of receivers) {
    const plain = await r.repo.decryptGroupMessage({ group: groupJid, authorJid: sender.address, msg: ciphertext })
    assert.equal(proto.Message.decode(unpadRandomMax16(plain)).conversation, text)
  }
  return { skdmTo: skdms.map(({ r }) => r.address) }
}
