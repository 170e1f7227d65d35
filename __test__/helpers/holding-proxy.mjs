// A TCP proxy in front of a private redis-server that holds back the first command of a given
// name until the test has done something: to change a store at an exact point of what another
// process (the CLI, say) does with it, without timing. Only the loopback interface is used.
import { connect, createServer } from 'node:net'

/**
 * Listens on a free loopback port and forwards every connection to `port`. The first client
 * data that holds the command `name` (as RESP sends a command name) waits for `beforeIt()` to
 * resolve before it is forwarded. Resolves to `{ port, held: Promise, close() }`; `held`
 * resolves once `beforeIt()` has run.
 */
export async function holdingProxy(port, name, beforeIt) {
  const marker = Buffer.from(`$${name.length}\r\n${name}\r\n`)
  let fired = false
  let ran
  const held = new Promise((resolve) => (ran = resolve))
  const sockets = new Set()
  const server = createServer((client) => {
    const upstream = connect({ port, host: '127.0.0.1' })
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
      socket.on('error', () => {
        client.destroy()
        upstream.destroy()
      })
    }
    upstream.pipe(client)
    // Chunks are forwarded in order, each after the one before, so holding one holds the rest.
    let forwarding = Promise.resolve()
    client.on('data', (chunk) => {
      forwarding = forwarding.then(async () => {
        if (!fired && chunk.includes(marker)) {
          fired = true
          await beforeIt()
          ran()
        }
        upstream.write(chunk)
      })
    })
    client.on('end', () => forwarding.then(() => upstream.end()))
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: server.address().port,
    held,
    close() {
      for (const socket of sockets) socket.destroy()
      return new Promise((resolve) => server.close(resolve))
    },
  }
}
