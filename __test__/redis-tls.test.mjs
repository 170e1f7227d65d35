// rediss:// URLs: TLS to Redis, verified against the trusted root certificates.
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

import test from 'ava'

import { ErrorCodes, openStore } from '../index.mjs'
import { freePort, requireRedis, startRedis, stopAll } from './helpers/redis-server.mjs'
import { tempDir } from './helpers/temp.mjs'

test.after.always(stopAll)

/** A private CA and a certificate for localhost signed by it (openssl CLI). */
function makeCertificates() {
  const dir = tempDir('bra-tls-')
  const at = (name) => join(dir, name)
  const openssl = (...args) => execFileSync('openssl', args, { stdio: 'pipe' })
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', at('ca.key'), '-out', at('ca.pem'), '-days', '2', '-subj', '/CN=baileys-rust-auth test CA')
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', at('server.key'), '-out', at('server.csr'), '-subj', '/CN=localhost')
  writeFileSync(at('ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n')
  openssl('x509', '-req', '-in', at('server.csr'), '-CA', at('ca.pem'), '-CAkey', at('ca.key'), '-CAcreateserial', '-out', at('server.pem'), '-days', '2', '-extfile', at('ext.cnf'))
  return { ca: at('ca.pem'), cert: at('server.pem'), key: at('server.key') }
}

async function startTlsRedis() {
  const certs = makeCertificates()
  const tlsPort = await freePort()
  const server = await startRedis({
    extraArgs: ['--tls-port', String(tlsPort), '--tls-cert-file', certs.cert, '--tls-key-file', certs.key, '--tls-auth-clients', 'no'],
  })
  return { server, certs, url: `rediss://localhost:${tlsPort}` }
}

test.serial('a rediss:// store talks TLS to a server whose certificate is trusted', async (t) => {
  if (!requireRedis(t)) return
  const { certs, url } = await startTlsRedis()
  // rustls reads the trusted roots from SSL_CERT_FILE when it is set.
  process.env.SSL_CERT_FILE = certs.ca
  try {
    const store = await openStore(url, { connectTimeoutMs: 3000 })
    await store.setKeys('s', { 'pre-key': { 1: { public: Buffer.alloc(32, 7) } } })
    t.deepEqual(await store.getKeys('s', 'pre-key', ['1']), { 1: { public: Buffer.alloc(32, 7) } })
    await store.close()
  } finally {
    delete process.env.SSL_CERT_FILE
  }
})

test.serial('a rediss:// store refuses a server whose certificate is not trusted', async (t) => {
  if (!requireRedis(t)) return
  const { url } = await startTlsRedis()
  process.env.SSL_CERT_FILE = '/dev/null'
  try {
    const err = await t.throwsAsync(openStore(url, { connectTimeoutMs: 3000 }))
    t.is(err.code, ErrorCodes.STORE_UNAVAILABLE)
    t.regex(err.message, /certificate/i)
  } finally {
    delete process.env.SSL_CERT_FILE
  }
})
