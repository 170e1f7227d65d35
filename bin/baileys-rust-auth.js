#!/usr/bin/env node
'use strict'
// The operator CLI: `npx baileys-rust-auth <command>`. Every command is a thin layer over the
// public API (index.js); docs/cli.md shows each command's --help, and a test keeps them equal.

const { parseArgs } = require('node:util')
const fs = require('node:fs')
const path = require('node:path')
const args = require('../lib/args.js')
const { openStore } = require('../lib/store.js')
const { importFolder, exportFolder, migrate } = require('../lib/transfer/migrate.js')
const { rekey } = require('../lib/rekey.js')
const { encryptStore, decryptStore } = require('../lib/convert.js')
const { ErrorCodes, storeError } = require('../lib/errors.js')
const { DEFAULT_STORE_URL, defaultStoreUrl } = require('../lib/default-store.js')
const { closest } = require('../lib/did-you-mean.js')
const { MAX_FILE_BYTES } = require('../lib/folder.js')
const { redactText, redactUrl } = require('../lib/redact.js')
const { version } = require('../package.json')

const STORE_HELP = `(default: $BAILEYS_AUTH_STORE, else ${DEFAULT_STORE_URL})`

/** Exit codes, documented in docs/cli.md. */
const EXIT = { OK: 0, FAILED: 1, USAGE: 2, PROBLEMS: 3 }

// Options several commands share; each command lists those that do something for it.
const JSON_OPTION = { json: { type: 'boolean', help: '--json             print the result as JSON on stdout' } }
/** For commands that print progress. */
const QUIET_OPTION = { quiet: { type: 'boolean', help: '--quiet            no progress output' } }
/** For commands that can be given a Redis store. */
const KEY_PREFIX_OPTION = { 'key-prefix': { type: 'string', help: '--key-prefix P     key prefix of Redis stores (default: baileys)' } }
/** For commands that take a session from its owner when told (docs/cli.md, "Sessions in use"). */
const takeoverOption = (help) => ({ takeover: { type: 'boolean', help: `--takeover         ${help}` } })
const HELP_OPTION = { help: { type: 'boolean', short: 'h', help: '-h, --help         show this help' } }
/** The column option descriptions start at; a longer option has its description on the next line. */
const HELP_COLUMN = 19
const helpLine = (option, text) =>
  option.length <= HELP_COLUMN - 2 ? `${option.padEnd(HELP_COLUMN)}${text}` : `${option}\n${' '.repeat(HELP_COLUMN + 2)}${text}`
/**
 * The key of an encrypted store (docs/cli.md, "Encrypted stores"): a file or an environment
 * variable, never the command line. `prefix` names the store of migrate ('from-', 'to-').
 */
const encryptionOptions = (prefix = '', whose = "the store's") => ({
  [`${prefix}key-file`]: { type: 'string', help: helpLine(`--${prefix}key-file PATH`, `${whose} encryption key: a file of 32 bytes (hex, base64 or raw)`) },
  [`${prefix}passphrase-env`]: { type: 'string', help: helpLine(`--${prefix}passphrase-env VAR`, `${whose} passphrase, in the environment variable VAR`) },
})
const ENCRYPTION_OPTIONS = encryptionOptions()

const COMMANDS = {
  sessions: {
    summary: 'list the sessions of a store',
    usage: 'sessions [--store URL]',
    about: 'Lists the sessions of a store, one per line; with --json, each with its owner.',
    options: { store: { type: 'string', help: `--store URL        the store ${STORE_HELP}` }, ...ENCRYPTION_OPTIONS, ...JSON_OPTION, ...KEY_PREFIX_OPTION },
    run: listSessions,
  },
  stats: {
    summary: 'show what a session holds (keys, bytes, last write, owner)',
    usage: 'stats [SESSION] [--store URL]',
    about:
      'Shows what a session holds: keys and bytes per type, its creds and its last write,\n' +
      'and who owns it (host, pid, lease expiry). Without SESSION, one line per session.',
    options: { store: { type: 'string', help: `--store URL        the store ${STORE_HELP}` }, ...ENCRYPTION_OPTIONS, ...JSON_OPTION, ...KEY_PREFIX_OPTION },
    run: showStats,
  },
  import: {
    summary: 'import a useMultiFileAuthState folder as a session',
    usage: 'import FOLDER --session ID [--to URL]',
    about:
      'Imports a useMultiFileAuthState folder into a store as one session: creds.json and\n' +
      'every key file, then verifies the session both ways. The folder is only read. An\n' +
      'interrupted import resumes when run again. Files that cannot be imported (not JSON,\n' +
      `not a key file, larger than ${MAX_FILE_BYTES / 1024 / 1024} MiB) are listed and the exit code is 3.`,
    options: {
      session: { type: 'string', help: '--session ID       the session id to import as (required)' },
      to: { type: 'string', help: `--to URL           the store to import into ${STORE_HELP}` },
      overwrite: { type: 'boolean', help: '--overwrite        replace the session if the store already has it' },
      type: { type: 'string', multiple: true, help: '--type NAME        also import key files of this type (repeatable)' },
      ...takeoverOption('import even if another process owns the session (it is fenced)'),
      ...encryptionOptions('', "the store's (a new store is encrypted with it)"),
      'batch-size': { type: 'string', help: '--batch-size N     keys per write (default: 500)' },
      ...JSON_OPTION,
      ...QUIET_OPTION,
      ...KEY_PREFIX_OPTION,
    },
    run: importCommand,
  },
  export: {
    summary: 'write a session as a useMultiFileAuthState folder',
    usage: 'export FOLDER --session ID [--from URL]',
    about:
      'Writes a session as a folder that Baileys\' useMultiFileAuthState opens, and verifies\n' +
      'it. FOLDER must not exist or be empty; it appears only when complete.',
    options: {
      session: { type: 'string', help: '--session ID       the session to export (required)' },
      from: { type: 'string', help: `--from URL         the store to read ${STORE_HELP}` },
      ...takeoverOption('export even if another process owns the session (it is fenced)'),
      ...ENCRYPTION_OPTIONS,
      decrypt: { type: 'boolean', help: '--decrypt          export a session of an encrypted store (the folder holds it in the clear)' },
      'batch-size': { type: 'string', help: '--batch-size N     keys per read (default: 500)' },
      ...JSON_OPTION,
      ...QUIET_OPTION,
      ...KEY_PREFIX_OPTION,
    },
    run: exportCommand,
  },
  migrate: {
    summary: 'copy sessions from one store to another',
    usage: 'migrate --from URL --to URL [--session ID]',
    about:
      'Copies sessions from one store to another byte for byte, each verified both ways:\n' +
      'one session, or all of them. Re-run an interrupted migration to resume it. Sessions\n' +
      'with keys but no creds are left out of a migration of all sessions, listed, and the\n' +
      'exit code is 3.',
    options: {
      from: { type: 'string', help: '--from URL         the store to copy from (required)' },
      to: { type: 'string', help: '--to URL           the store to copy to (required)' },
      session: { type: 'string', help: '--session ID       copy only this session' },
      overwrite: { type: 'boolean', help: '--overwrite        replace sessions the target already has' },
      ...takeoverOption('copy sessions other processes own, in either store (they are fenced)'),
      ...encryptionOptions('', 'both stores\''),
      ...encryptionOptions('from-', 'the source store\'s'),
      ...encryptionOptions('to-', 'the target store\'s'),
      decrypt: { type: 'boolean', help: '--decrypt          copy an encrypted store into one without encryption (in the clear)' },
      'batch-size': { type: 'string', help: '--batch-size N     keys per write (default: 500)' },
      ...JSON_OPTION,
      ...QUIET_OPTION,
      ...KEY_PREFIX_OPTION,
    },
    run: migrateCommand,
  },
  backup: {
    summary: 'copy a SQLite store to a file while it is in use',
    usage: 'backup FILE [--store URL]',
    about:
      'Copies a SQLite store, consistently, to FILE while applications keep using it. FILE\n' +
      'is replaced atomically: it is always the old file or a complete copy.',
    options: { store: { type: 'string', help: `--store URL        the SQLite store ${STORE_HELP}` }, ...ENCRYPTION_OPTIONS, ...JSON_OPTION },
    run: backupCommand,
  },
  rekey: {
    summary: 'change the key of an encrypted store, while it is in use',
    usage: 'rekey --store URL --key-file OLD --new-key-file NEW',
    about:
      'Re-seals every value of an encrypted store under a new key while applications keep\n' +
      'using it: the old key opens the store until the rekey finishes, then only the new one\n' +
      'does. A session a running application owns is re-sealed by that application when it\n' +
      'next renews its lease; the rekey waits for it (--wait-seconds). An interrupted rekey\n' +
      'resumes when run again with the same keys. If owners did not re-seal their sessions\n' +
      'in time, those are listed, the old key still opens the store, and the exit code is 3.',
    options: {
      store: { type: 'string', help: `--store URL        the store ${STORE_HELP}` },
      ...encryptionOptions('', "the store's current"),
      ...encryptionOptions('new-', 'the new'),
      'wait-seconds': { type: 'string', help: '--wait-seconds N   how long to wait for owners to re-seal their sessions (default: 60)' },
      ...JSON_OPTION,
      ...QUIET_OPTION,
      ...KEY_PREFIX_OPTION,
    },
    run: rekeyCommand,
  },
  encrypt: {
    summary: 'encrypt a plain store in place (applications stopped)',
    usage: 'encrypt --store URL --key-file PATH',
    about:
      'Encrypts a plain store in place: every session is moved under its hashed name, sealed,\n' +
      'read back and compared, then its plain copy is deleted. Stop the applications first: a\n' +
      'session another process owns refuses the conversion before anything is written. While\n' +
      'it runs, no application opens the store; an interrupted encrypt resumes when run again.',
    options: {
      store: { type: 'string', help: `--store URL        the store ${STORE_HELP}` },
      ...encryptionOptions('', "the store's new"),
      ...JSON_OPTION,
      ...QUIET_OPTION,
      ...KEY_PREFIX_OPTION,
    },
    run: (positionals, flags, out) => convertCommand('encrypt', positionals, flags, out),
  },
  decrypt: {
    summary: 'make an encrypted store plain again, in place (applications stopped)',
    usage: 'decrypt --store URL --key-file PATH',
    about:
      'Makes an encrypted store plain again, in place: every session is moved back under its\n' +
      'own name, in the clear, read back and compared, then its sealed copy is deleted. Stop\n' +
      'the applications first: a session another process owns refuses the conversion before\n' +
      'anything is written. While it runs, no application opens the store; an interrupted\n' +
      'decrypt resumes when run again.',
    options: {
      store: { type: 'string', help: `--store URL        the store ${STORE_HELP}` },
      ...ENCRYPTION_OPTIONS,
      ...JSON_OPTION,
      ...QUIET_OPTION,
      ...KEY_PREFIX_OPTION,
    },
    run: (positionals, flags, out) => convertCommand('decrypt', positionals, flags, out),
  },
  'delete-session': {
    summary: 'delete a session (creds and keys)',
    usage: 'delete-session SESSION --yes [--store URL]',
    about: 'Deletes a session: its creds and every key. It cannot be undone; the phone must be\npaired again.',
    options: {
      yes: { type: 'boolean', help: '--yes              confirm the deletion (required)' },
      store: { type: 'string', help: `--store URL        the store ${STORE_HELP}` },
      ...takeoverOption('delete even if another process owns the session (it is fenced)'),
      ...ENCRYPTION_OPTIONS,
      ...JSON_OPTION,
      ...KEY_PREFIX_OPTION,
    },
    run: deleteSessionCommand,
  },
}

function mainHelp() {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length))
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`)
  return [
    'Usage: baileys-rust-auth <command> [options]',
    '',
    'Inspect, back up and move Baileys auth sessions kept by baileys-rust-auth.',
    '',
    'Commands:',
    ...lines,
    '',
    'Stores are URLs: sqlite:PATH (or a file path), redis://HOST:PORT, rediss://…,',
    'redis+unix:///PATH, redis+cluster://HOST:PORT,HOST:PORT,',
    'postgres://USER@HOST/DB[?schema=NAME], mysql://USER@HOST/DB[?tablePrefix=NAME].',
    "Run 'baileys-rust-auth <command> --help' for a command's options.",
    '',
    'Exit codes: 0 done, 1 failed, 2 wrong usage, 3 done with files or sessions left out.',
    'A session another process owns is refused (exit 1) unless --takeover is given.',
    'An encrypted store opens with --key-file PATH or --passphrase-env VAR; its values',
    'leave it in the clear (export, migrate to a plain store) only with --decrypt.',
    '',
  ].join('\n')
}

/** A command's options, --help included. */
function optionsOf(command) {
  return { ...command.options, ...HELP_OPTION }
}

function commandHelp(name) {
  const command = COMMANDS[name]
  const options = optionsOf(command)
  return [
    `Usage: baileys-rust-auth ${command.usage} [options]`,
    '',
    command.about,
    '',
    'Options:',
    ...Object.values(options).map((o) => `  ${o.help}`),
    '',
  ].join('\n')
}

class UsageError extends Error {}

/** Progress on stderr: a bar on a terminal, plain lines otherwise, nothing with --quiet. */
function progressReporter(flags) {
  if (flags.quiet) return undefined
  const tty = process.stderr.isTTY
  let last = 0
  return ({ phase, session, done, total }) => {
    const label = `${phase === 'verify' ? 'verifying' : 'copying'} ${session}`
    if (tty) {
      const now = Date.now()
      if (done < total && now - last < 100) return
      last = now
      const width = 30
      const filled = total === 0 ? width : Math.round((done / total) * width)
      process.stderr.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}\u001b[K`)
      if (done === total) process.stderr.write('\n')
    } else {
      process.stderr.write(`${label}: ${done}/${total} keys\n`)
    }
  }
}

function storeUrl(value) {
  return value ?? defaultStoreUrl()
}

const REDIS_KINDS = ['redis', 'redis-cluster']

/**
 * openStore's options for a URL: the key prefix applies to Redis stores only (the URL's kind
 * is the binding's parseStoreUrl answer, through the argument gate). A store that a
 * command only reads (`create: false`) must exist: looking must never leave a new database.
 */
function storeOptions(url, flags, { create = true, encryption = encryptionOf(flags) } = {}) {
  const options = create ? {} : { create: false }
  if (flags['key-prefix'] !== undefined && REDIS_KINDS.includes(args.storeUrl(url).kind)) options.keyPrefix = flags['key-prefix']
  if (encryption !== undefined) options.encryption = encryption
  return options
}

/**
 * A key file's key: its text (hex or base64; the binding ignores the whitespace around it), or
 * exactly 32 raw bytes as a Buffer. A file others can read is used, with a warning. The key is
 * never printed, whatever is wrong with it.
 */
function keyFromFile(option, file) {
  if (file === '') throw new UsageError(`--${option} needs the path of a key file`)
  let bytes
  try {
    bytes = fs.readFileSync(file)
  } catch (err) {
    throw new UsageError(`--${option} ${file}: the key file cannot be read (${err.code ?? err.message})`)
  }
  if (process.platform !== 'win32') {
    const mode = fs.statSync(file).mode & 0o777
    if ((mode & 0o044) !== 0) {
      process.stderr.write(`warning: ${file} is readable by other users (mode ${mode.toString(8).padStart(4, '0')}): chmod 600 it\n`)
    }
  }
  if (bytes.length === 32) return { key: bytes }
  const text = bytes.toString('utf8').trim()
  bytes.fill(0)
  if (text === '') throw new UsageError(`--${option} ${file}: the key file is empty`)
  return { key: text }
}

/** A passphrase from the environment variable `--<option>` names (never its value in a message). */
function passphraseFromEnv(option, name) {
  if (name === '') throw new UsageError(`--${option} needs the name of an environment variable`)
  const passphrase = process.env[name]
  if (passphrase === undefined) throw new UsageError(`--${option}: the environment variable ${name} is not set`)
  if (passphrase === '') throw new UsageError(`--${option}: the environment variable ${name} is empty`)
  return { passphrase }
}

/**
 * options.encryption from the flags `--<prefix>key-file` and `--<prefix>passphrase-env`, or
 * undefined when neither is given (the store is then opened without a key).
 */
function encryptionOf(flags, prefix = '') {
  const [file, env] = [`${prefix}key-file`, `${prefix}passphrase-env`]
  if (flags[file] !== undefined && flags[env] !== undefined) throw new UsageError(`--${file} and --${env} cannot be given together: a store has one key`)
  if (flags[file] !== undefined) return keyFromFile(file, flags[file])
  if (flags[env] !== undefined) return passphraseFromEnv(env, flags[env])
  return undefined
}

/** The keys of migrate's stores: `--from-…` and `--to-…`, else `--key-file` / `--passphrase-env` for both. */
function migrateEncryption(flags) {
  const given = (prefix) => flags[`${prefix}key-file`] !== undefined || flags[`${prefix}passphrase-env`] !== undefined
  if (given('') && given('from-') && given('to-')) {
    throw new UsageError('--key-file / --passphrase-env would apply to neither store: --from-… and --to-… both name a key')
  }
  const both = given('') ? encryptionOf(flags) : undefined
  return {
    from: given('from-') ? encryptionOf(flags, 'from-') : both,
    to: given('to-') ? encryptionOf(flags, 'to-') : both,
  }
}

/** The flags that give the key of a store, for messages: `--key-file or --passphrase-env`, or migrate's of one store. */
function keyFlags(storeOption) {
  const prefix = storeOption === 'from' ? 'from-' : storeOption === 'to' ? 'to-' : ''
  return { file: `--${prefix}key-file`, env: `--${prefix}passphrase-env` }
}

/**
 * The CLI's words for ERR_STORE_KEY (the library's name options.encryption): the flags that
 * give a key, and for migrate which store (err.storeOption) it is about.
 */
function keyMessage(err) {
  const { file, env } = keyFlags(err.storeOption)
  const store = err.storeOption === 'from' ? 'the source store (--from)' : err.storeOption === 'to' ? 'the target store (--to)' : undefined
  const message = String(err.message)
    .replace(/\(options\.encryption, or BAILEYS_AUTH_KEY for useRustAuthState; /, `(${file} or ${env}; `)
    .replace(/open it without encryption, or convert it first \([^)]*\)/, `open it without ${file} or ${env}, or encrypt it first (baileys-rust-auth encrypt, docs/encryption.md)`)
    .replace(/open it without a key/, `open it without ${file} or ${env}`)
    .replace(/encryption: \{ key \}/, file)
    .replace(/encryption: \{ passphrase \}/, env)
    .replace(/options\.encryption/g, `${file} or ${env}`)
  if (store === undefined) return message
  return message.includes('this store') ? message.replace('this store', store) : `${store}: ${message}`
}

/**
 * The CLI's words for the library's refusals to write an encrypted store's values in the clear
 * (exportFolder's and migrate's `decrypt: true` is --decrypt here).
 */
function decryptMessage(message) {
  return message
    .replace('options.from is encrypted and options.to is not', 'the source store (--from) is encrypted and the target (--to) is not')
    .replace('Open options.to with encryption, or pass decrypt: true to', 'Give the target a key (--to-key-file or --to-passphrase-env), or run again with --decrypt to')
    .replace('pass decrypt: true to', 'run again with --decrypt to')
}

/** Runs `work` on the store `url` names, which must exist (these commands only read or delete). */
async function withStore(url, flags, work) {
  const store = await openStore(url, storeOptions(url, flags, { create: false }))
  try {
    return await work(store)
  } finally {
    await store.close()
  }
}

function batchSize(flags) {
  if (flags['batch-size'] === undefined) return undefined
  const n = Number(flags['batch-size'])
  if (!Number.isInteger(n) || n < 1 || n > 100000) throw new UsageError('--batch-size must be an integer from 1 to 100000')
  return n
}

function required(flags, name) {
  if (flags[name] === undefined || flags[name] === '') throw new UsageError(`--${name} is required`)
  return flags[name]
}

function onePositional(positionals, what) {
  if (positionals.length === 0) throw new UsageError(`${what} is required`)
  if (positionals.length > 1) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[1])}`)
  return positionals[0]
}

function noPositionals(positionals) {
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`)
}

function formatBytes(n) {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`
  return `${(n / 1024 / 1024).toFixed(1)} MiB`
}

const isoTime = (date) => (date instanceof Date && !Number.isNaN(date.getTime()) ? date.toISOString() : 'unknown')

/** A lease as --json shows it (times as ISO strings), or null. */
function leaseJson(lease) {
  if (lease === null || lease === undefined) return null
  return { ...lease, acquiredAt: isoTime(lease.acquiredAt), expiresAt: isoTime(lease.expiresAt) }
}

/**
 * A session's owner as --json shows it: its lease while live, else null (a lease given back or
 * lapsed, the import's that wrote it say, is nobody's).
 */
const ownerJson = (lease) => (lease?.live ? leaseJson(lease) : null)

/** Who owns a session, for people: `HOST (pid N) until TIME`. */
function ownerText({ host, pid, expiresAt }) {
  return `${host} (pid ${pid}) until ${isoTime(expiresAt)}`
}

/**
 * The CLI's words for ERR_SESSION_LOCKED (the library's say `takeover: true`): the session, the
 * store it is owned in (migrate), its owner and how to go on.
 */
function lockedMessage({ session, owner, storeOption }) {
  const where = storeOption === 'from' ? ' of the source store (--from)' : storeOption === 'to' ? ' of the target store (--to)' : ''
  const name = session === undefined ? 'the session' : `session ${JSON.stringify(session)}`
  return `${name}${where} is owned by ${ownerText(owner)}: stop that owner first, or run again with --takeover to take the session over (that owner is then fenced)`
}

const isLocked = (err) => err?.code === ErrorCodes.SESSION_LOCKED && err.owner !== null && typeof err.owner === 'object'

function statsJson(stats) {
  return { ...stats, lastWriteAt: stats.lastWriteAt?.toISOString() ?? null, owner: ownerJson(stats.owner) }
}

async function listSessions(positionals, flags, out) {
  noPositionals(positionals)
  // One read of every lease, not one per session; leases are only read (no lease is taken).
  const [sessions, leases] = await withStore(storeUrl(flags.store), flags, async (store) => [
    await store.sessions(),
    flags.json ? await store.leases() : [],
  ])
  if (!flags.json) {
    out.text(sessions.map((s) => `${s}\n`).join(''))
    return
  }
  const owners = new Map(leases.map(({ session, ...lease }) => [session, lease]))
  out.json(sessions.map((session) => ({ session, owner: ownerJson(owners.get(session)) })))
}

async function showStats(positionals, flags, out) {
  if (positionals.length > 1) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[1])}`)
  const [session] = positionals
  await withStore(storeUrl(flags.store), flags, async (store) => {
    if (session !== undefined) {
      const stats = await store.stats(session)
      if (!stats.credsPresent && stats.totalKeys === 0) throw storeError(ErrorCodes.INVALID_ARG, `the store has no session ${JSON.stringify(session)}`)
      if (flags.json) return out.json(statsJson(stats))
      const lines = [
        `session     ${session}`,
        `creds       ${stats.credsPresent ? formatBytes(stats.credsBytes) : 'none'}`,
        `last write  ${stats.lastWriteAt?.toISOString() ?? 'unknown'}`,
        `owner       ${stats.owner?.live ? ownerText(stats.owner) : 'none'}`,
        `keys        ${stats.totalKeys} (${formatBytes(stats.totalBytes - stats.credsBytes)})`,
      ]
      const width = Math.max(0, ...Object.keys(stats.keys).map((t) => t.length))
      for (const [type, { count, bytes }] of Object.entries(stats.keys)) {
        lines.push(`  ${type.padEnd(width)}  ${String(count).padStart(8)}  ${formatBytes(bytes).padStart(10)}`)
      }
      return out.text(`${lines.join('\n')}\n`)
    }
    const all = []
    for (const name of await store.sessions()) all.push(await store.stats(name))
    if (flags.json) return out.json(all.map(statsJson))
    const width = Math.max(7, ...all.map((s) => s.session.length))
    const lines = [`${'SESSION'.padEnd(width)}  ${'KEYS'.padStart(8)}  ${'BYTES'.padStart(10)}  ${'LAST WRITE'.padEnd(24)}  OWNER`]
    for (const s of all) {
      const lastWrite = (s.lastWriteAt?.toISOString() ?? 'unknown').padEnd(24)
      const owner = s.owner?.live ? ownerText(s.owner) : '-'
      lines.push(`${s.session.padEnd(width)}  ${String(s.totalKeys).padStart(8)}  ${formatBytes(s.totalBytes).padStart(10)}  ${lastWrite}  ${owner}`)
    }
    return out.text(`${lines.join('\n')}\n`)
  })
}

/** What a copy did to a session, every number as in the result (see TransferResult in index.d.ts). */
function copySummary({ keys, written, unchanged, removed }) {
  const parts = [`${written} written`, `${unchanged} already there`]
  if (removed > 0) parts.push(`${removed} removed`)
  return `${keys} keys (${parts.join(', ')})`
}

function printProblems(problems) {
  for (const { file, reason } of problems) process.stderr.write(`not imported: ${file}: ${reason}\n`)
}

async function importCommand(positionals, flags, out) {
  const folder = onePositional(positionals, 'FOLDER')
  const session = required(flags, 'session')
  const to = storeUrl(flags.to)
  const result = await importFolder(folder, {
    session,
    store: to,
    storeOptions: storeOptions(to, flags),
    overwrite: flags.overwrite ?? false,
    takeover: flags.takeover ?? false,
    types: flags.type ?? [],
    batchSize: batchSize(flags),
    onProgress: progressReporter(flags),
  })
  printProblems(result.problems)
  if (flags.json) out.json(result)
  else out.text(`imported ${folder} into ${redactUrl(to)} as session ${session}: ${copySummary(result)}, verified\n`)
  if (result.problems.length > 0) {
    process.stderr.write(`${result.problems.length} file(s) of ${folder} could not be imported (listed above)\n`)
    return EXIT.PROBLEMS
  }
}

async function exportCommand(positionals, flags, out) {
  const folder = onePositional(positionals, 'FOLDER')
  const session = required(flags, 'session')
  const from = storeUrl(flags.from)
  const result = await exportFolder(folder, {
    session,
    store: from,
    storeOptions: storeOptions(from, flags, { create: false }),
    takeover: flags.takeover ?? false,
    decrypt: flags.decrypt ?? false,
    batchSize: batchSize(flags),
    onProgress: progressReporter(flags),
  })
  if (flags.json) out.json(result)
  else out.text(`exported session ${session} of ${redactUrl(from)} to ${result.folder}: ${result.keys} keys and creds.json, verified\n`)
}

async function migrateCommand(positionals, flags, out) {
  noPositionals(positionals)
  const from = required(flags, 'from')
  const to = required(flags, 'to')
  const keys = migrateEncryption(flags)
  let result
  try {
    result = await migrate({
      from,
      to,
      fromOptions: storeOptions(from, flags, { create: false, encryption: keys.from }),
      toOptions: storeOptions(to, flags, { encryption: keys.to }),
      session: flags.session,
      overwrite: flags.overwrite ?? false,
      takeover: flags.takeover ?? false,
      decrypt: flags.decrypt ?? false,
      batchSize: batchSize(flags),
      onProgress: progressReporter(flags),
    })
  } catch (err) {
    // Some sessions failed, the others were copied: say which is which, then fail.
    if (!Array.isArray(err?.failures)) throw err
    const hide = (text) => redactText(text, [from, to])
    for (const s of err.result.sessions) process.stderr.write(`migrated ${s.session}: ${copySummary(s)}, verified\n`)
    for (const { session, reason } of err.result.skipped) process.stderr.write(`skipped ${session}: ${reason}\n`)
    // A session another process owns is named with its owner and --takeover, in the CLI's words.
    const failures = err.failures.map((f) => (isLocked(f) ? { ...f, message: lockedMessage(f) } : f))
    for (const f of failures) {
      for (const mismatch of f.mismatches) process.stderr.write(`mismatch: ${f.session}: ${hide(mismatch)}\n`)
      process.stderr.write(`failed ${f.session}: ${hide(f.message)} (${f.code})\n`)
    }
    const total = err.result.sessions.length + failures.length
    err.message =
      `${failures.length} of ${total} sessions could not be migrated: ` + failures.map((f) => `${JSON.stringify(f.session)}: ${f.message}`).join('; ')
    delete err.mismatches // listed above, per session
    throw err
  }
  for (const { session, reason } of result.skipped) process.stderr.write(`skipped ${session}: ${reason}\n`)
  if (flags.json) out.json(result)
  else {
    const lines = result.sessions.map((s) => `session ${s.session}: ${copySummary(s)}, verified\n`)
    const total = { keys: 0, written: 0, unchanged: 0, removed: 0 }
    for (const s of result.sessions) for (const n of Object.keys(total)) total[n] += s[n]
    lines.push(`migrated ${result.sessions.length} session(s) from ${redactUrl(from)} to ${redactUrl(to)}: ${copySummary(total)}, verified\n`)
    out.text(lines.join(''))
  }
  // Sessions are all that a migration leaves out: a key that disappears during a copy fails it.
  if (result.skipped.length > 0) {
    process.stderr.write(`${result.skipped.length} session(s) were left out (listed above)\n`)
    return EXIT.PROBLEMS
  }
}

async function backupCommand(positionals, flags, out) {
  const file = onePositional(positionals, 'FILE')
  const url = storeUrl(flags.store)
  await withStore(url, flags, (store) => store.backup(file))
  const bytes = require('node:fs').statSync(file).size
  if (flags.json) out.json({ store: redactUrl(url), file: path.resolve(file), bytes })
  else out.text(`backed up ${redactUrl(url)} to ${file} (${formatBytes(bytes)})\n`)
}

async function rekeyCommand(positionals, flags, out) {
  noPositionals(positionals)
  const url = storeUrl(flags.store)
  const from = encryptionOf(flags)
  const to = encryptionOf(flags, 'new-')
  if (from === undefined) throw new UsageError("--key-file or --passphrase-env is required: the store's current key")
  if (to === undefined) throw new UsageError('--new-key-file or --new-passphrase-env is required: the new key')
  let waitMs
  if (flags['wait-seconds'] !== undefined) {
    const seconds = Number(flags['wait-seconds'])
    if (!Number.isInteger(seconds) || seconds < 0 || seconds > 86400) throw new UsageError('--wait-seconds must be a whole number from 0 to 86400')
    waitMs = seconds * 1000
  }
  const onProgress = flags.quiet
    ? undefined
    : ({ session, resealed, stale, owner, look }) => {
        // The last looks list only what they found.
        if (look > 0 && resealed === 0 && stale === 0) return
        const line =
          stale === 0
            ? `re-sealed ${session}: ${resealed} value(s)`
            : `waiting for ${session}: ${stale} value(s) left to its owner ${ownerText(owner ?? { host: '?', pid: '?', expiresAt: undefined })}`
        process.stderr.write(`${line}\n`)
      }
  const result = await rekey({ store: url, from, to, storeOptions: storeOptions(url, { 'key-prefix': flags['key-prefix'] }), waitMs, onProgress })
  const pending = result.pending.map(({ session, stale, owner }) => ({ session, stale, owner: owner === null ? null : leaseJson(owner) }))
  if (flags.json) out.json({ ...result, pending })
  for (const { session, stale, owner } of result.pending) {
    process.stderr.write(`not re-sealed: ${session}: ${stale} value(s), owned by ${owner === null ? 'nobody now' : ownerText(owner)}\n`)
  }
  if (!result.finished) {
    process.stderr.write(
      `${result.pending.length} session(s) are not re-sealed yet (listed above): the old key still opens the store; run the same rekey again to finish\n`,
    )
    return EXIT.PROBLEMS
  }
  if (!flags.json) out.text(`rekeyed ${redactUrl(url)}: ${result.sessions} session(s), ${result.resealed} value(s) re-sealed; only the new key opens it now\n`)
}

async function convertCommand(direction, positionals, flags, out) {
  noPositionals(positionals)
  const url = storeUrl(flags.store)
  const key = encryptionOf(flags)
  if (key === undefined) {
    throw new UsageError(`--key-file or --passphrase-env is required: the key to ${direction === 'encrypt' ? 'encrypt the store with' : 'open the store with'}`)
  }
  const onProgress = flags.quiet
    ? undefined
    : ({ session, done, total }) => process.stderr.write(`${direction}ed ${session} (${done}/${total})\n`)
  const run = direction === 'encrypt' ? encryptStore : decryptStore
  const { sessions } = await run({ store: url, key, storeOptions: storeOptions(url, { 'key-prefix': flags['key-prefix'] }), onProgress })
  if (flags.json) out.json({ store: redactUrl(url), [`${direction}ed`]: true, sessions })
  else if (direction === 'encrypt') out.text(`encrypted ${redactUrl(url)}: ${sessions} session(s); it opens only with its key now\n`)
  else out.text(`decrypted ${redactUrl(url)}: ${sessions} session(s); it opens without a key now\n`)
}

async function deleteSessionCommand(positionals, flags, out) {
  const session = onePositional(positionals, 'SESSION')
  if (!flags.yes) throw new UsageError(`deleting session ${JSON.stringify(session)} cannot be undone: add --yes to confirm`)
  const url = storeUrl(flags.store)
  await withStore(url, flags, async (store) => {
    if (!(await store.sessions()).includes(session)) throw storeError(ErrorCodes.INVALID_ARG, `the store has no session ${JSON.stringify(session)}`)
    try {
      await store.deleteSession(session, { takeover: flags.takeover ?? false })
    } catch (err) {
      if (isLocked(err) && err.session === undefined) err.session = session
      throw err
    }
  })
  if (flags.json) out.json({ deleted: session })
  else out.text(`deleted session ${session} from ${redactUrl(url)}\n`)
}

async function main(argv) {
  const out = {
    json: (value) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`),
    text: (text) => process.stdout.write(text),
  }
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(mainHelp())
    return name === undefined ? EXIT.USAGE : EXIT.OK
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${version}\n`)
    return EXIT.OK
  }
  const command = COMMANDS[name]
  if (!command) {
    const meant = closest(name, Object.keys(COMMANDS))
    const hint = meant ? `: did you mean ${JSON.stringify(meant)}?` : ''
    process.stderr.write(`error: unknown command ${JSON.stringify(name)}${hint}\n\n${mainHelp()}`)
    return EXIT.USAGE
  }
  let flags, positionals
  try {
    const options = Object.fromEntries(
      // parseArgs' own fields only (it refuses `short: undefined`).
      Object.entries(optionsOf(command)).map(([k, { help, ...option }]) => [k, option]),
    )
    ;({ values: flags, positionals } = parseArgs({ args: rest, options, allowPositionals: true, strict: true }))
  } catch (err) {
    process.stderr.write(`error: ${usageMessage(name, err)}\n\n${commandHelp(name)}`)
    return EXIT.USAGE
  }
  if (flags.help) {
    process.stdout.write(commandHelp(name))
    return EXIT.OK
  }
  try {
    return (await command.run(positionals, flags, out)) ?? EXIT.OK
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`error: ${err.message}\n\nRun 'baileys-rust-auth ${name} --help' for its options.\n`)
      return EXIT.USAGE
    }
    // Messages may quote a URL (one built by the native module, say): never its password.
    const urls = [flags.store, flags.from, flags.to, defaultStoreUrl()]
    const code = typeof err?.code === 'string' ? err.code : 'ERR_UNEXPECTED'
    // A session another process owns: its owner named, and --takeover (not the library's option) as the way on.
    const locked = isLocked(err) && !Array.isArray(err.failures)
    // A key that does not open a store: the flags that give one (not the library's option).
    const wrongKey = code === ErrorCodes.STORE_KEY && !Array.isArray(err.failures)
    const message = redactText(locked ? lockedMessage(err) : wrongKey ? keyMessage(err) : decryptMessage(String(err?.message ?? err)), urls)
    const mismatches = Array.isArray(err?.mismatches) ? err.mismatches.map((m) => redactText(m, urls)) : []
    for (const mismatch of mismatches) process.stderr.write(`mismatch: ${mismatch}\n`)
    process.stderr.write(`error: ${message} (${code})\n`)
    const owner = locked ? { owner: leaseJson(err.owner) } : {}
    if (flags.json) out.json({ error: { code, message, ...owner, ...(mismatches.length > 0 ? { mismatches } : {}) } })
    return EXIT.FAILED
  }
}

/** parseArgs' complaint, in our words, with a guess at the option meant. */
function usageMessage(name, err) {
  if (err.code !== 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return err.message
  const option = /^Unknown option '([^']+)'/.exec(err.message)?.[1]
  if (option === undefined) return err.message
  const given = option.replace(/^--?/, '')
  const mine = Object.keys(optionsOf(COMMANDS[name]))
  const meant = closest(given, mine)
  if (meant) return `unknown option '${option}': did you mean '--${meant}'?`
  // Right for another command, or a typo of one of its options.
  const all = [...new Set(Object.values(COMMANDS).flatMap((c) => Object.keys(c.options)))]
  const elsewhere = all.includes(given) ? given : closest(given, all)
  if (elsewhere === undefined) return `unknown option '${option}'`
  const others = Object.keys(COMMANDS).filter((c) => Object.hasOwn(COMMANDS[c].options, elsewhere))
  return `unknown option '${option}': '--${elsewhere}' is an option of ${others.join(', ')}, not of ${name}`
}

module.exports = { COMMANDS, mainHelp, commandHelp }

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code
  })
}
