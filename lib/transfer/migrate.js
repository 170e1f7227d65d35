'use strict'
// importFolder, exportFolder and migrate: their arguments through the gate (lib/args.js), the
// stores they name opened (and closed) here, and the copy engine (lib/transfer/copy.js) run
// over one session or all of them, each as the session's temporary owner (lib/ownership.js):
// a session another owner holds is refused ERR_SESSION_LOCKED unless `takeover`. Types and
// docs: index.d.ts.

const args = require('../args.js')
const { defaultStoreUrl } = require('../default-store.js')
const { ErrorCodes, isAuthStoreError, storeError } = require('../errors.js')
const { AuthStore, openStore, nativeOf } = require('../store.js')
const { withSessionLease } = require('../ownership.js')
const { DEFAULT_BATCH_SIZE, folderSource, storeSource, copySession } = require('./copy.js')
const { exportSession } = require('./export.js')

/**
 * Runs `work` on the store an option names: an AuthStore as is, a URL opened and closed here.
 * A key that does not open it (ERR_STORE_KEY) says which option named it (`err.storeOption`:
 * 'from' or 'to' for migrate), so that tools can name their own flags.
 */
async function withStore(store, what, work, storeOptions, storeOption) {
  if (args.isAuthStore(args.storeOrUrl(store, what, AuthStore), AuthStore, what)) return work(store)
  let opened
  try {
    opened = await openStore(store, storeOptions)
  } catch (err) {
    if (err?.code === ErrorCodes.STORE_KEY && storeOption !== undefined) err.storeOption = storeOption
    throw err
  }
  try {
    return await work(opened)
  } finally {
    await opened.close()
  }
}

/**
 * Whether the store an option names is encrypted: an AuthStore opened with options.encryption,
 * or a URL with `encryption` in its options. Known before any store is opened.
 */
function isEncrypted(store, storeOptions, what, storeWhat) {
  return args.isAuthStore(store, AuthStore, storeWhat) ? store.encrypted : args.encryptionGiven(storeOptions, what)
}

/** `decrypt`, a boolean (false when not given). */
function decryptOption(value) {
  if (value === undefined) return false
  if (typeof value !== 'boolean') throw storeError(ErrorCodes.INVALID_ARG, 'options.decrypt must be a boolean')
  return value
}

/**
 * Runs `work(fence)` as the temporary owner of `session` of `store` (withSessionLease). A
 * session another owner holds is refused ERR_SESSION_LOCKED, naming the owner (`err.owner`),
 * the session (`err.session`) and, for migrate, which of its stores (`err.storeOption`:
 * 'from' or 'to'), unless `takeover`: that owner is then fenced, its next write refused.
 */
async function asOwner(store, session, { takeover, storeOption }, work) {
  try {
    return await withSessionLease(store, session, { takeover }, work)
  } catch (err) {
    if (err?.code !== ErrorCodes.SESSION_LOCKED || err.owner === undefined || err.session !== undefined) throw err
    throw lockedError(err, session, storeOption)
  }
}

/** ERR_SESSION_LOCKED for `session`, naming its owner (and its store for migrate), with `owner`, `session` and `storeOption`. */
function lockedError(cause, session, storeOption) {
  const { host, pid, expiresAt } = cause.owner
  const where = storeOption === undefined ? '' : ` of ${storeOption === 'from' ? 'the source store (options.from)' : 'the target store (options.to)'}`
  const until = expiresAt instanceof Date && !Number.isNaN(expiresAt.getTime()) ? ` until ${expiresAt.toISOString()}` : ''
  const err = storeError(
    ErrorCodes.SESSION_LOCKED,
    `session ${JSON.stringify(session)}${where} is owned by ${host} (pid ${pid})${until}; ` +
      'stop that owner first, or pass takeover: true to take the session over (that owner is then fenced)',
    cause,
  )
  err.owner = cause.owner
  err.session = session
  if (storeOption !== undefined) err.storeOption = storeOption
  return err
}

/**
 * Imports a useMultiFileAuthState folder into a store as one session, exactly: creds and
 * every key file, ids un-mangled per type and 6.7-era values normalised. The folder is only
 * read. Re-running an interrupted import resumes it; the import ends by verifying the
 * session both ways. Resolves to `{ session, keys, written, unchanged, removed, problems }`,
 * `problems` naming every file that could not be imported and why. The session is written as
 * its temporary owner: one another owner holds is refused unless `takeover` (see asOwner).
 */
async function importFolder(folder, options = {}) {
  const names = ['session', 'store', 'types', 'storeOptions', 'batchSize', 'onProgress', 'overwrite', 'takeover']
  const opts = args.transferOptions(options ?? {}, names, DEFAULT_BATCH_SIZE)
  const { session, store = defaultStoreUrl(), types = [], storeOptions } = opts.given
  args.sessionId(session)
  args.folder(folder)
  const source = await folderSource(folder, { types: args.keyTypes(types) })
  return withStore(
    store,
    'options.store',
    (target) => asOwner(target, session, opts, (fence) => copySession(source, nativeOf(target), session, { ...opts, fence })),
    storeOptions,
  )
}

/**
 * Writes a session as a folder that Baileys' useMultiFileAuthState opens. The folder must not
 * exist or be empty; it appears complete and verified, or not at all. The session is read as
 * its temporary owner, so that no owner writes it meanwhile: one another owner holds is
 * refused unless `takeover` (see asOwner). A folder holds everything in the clear: a session
 * of an encrypted store (opened with options.encryption) is refused ERR_INVALID_ARG, before
 * anything is read, unless `decrypt: true`.
 */
async function exportFolder(folder, options = {}) {
  const names = ['session', 'store', 'storeOptions', 'batchSize', 'onProgress', 'takeover', 'decrypt']
  const opts = args.transferOptions(options ?? {}, names, DEFAULT_BATCH_SIZE)
  const { session, store = defaultStoreUrl(), storeOptions } = opts.given
  const decrypt = decryptOption(opts.given.decrypt)
  args.sessionId(session)
  args.folder(folder)
  args.storeOrUrl(store, 'options.store', AuthStore)
  // A folder is plaintext by nature: the values of an encrypted store leave it sealed only.
  // Refused before the store is opened (an AuthStore: before anything is read).
  if (!decrypt && isEncrypted(store, storeOptions, 'options.storeOptions', 'options.store')) {
    throw storeError(
      ErrorCodes.INVALID_ARG,
      'the store is encrypted, and a useMultiFileAuthState folder would hold the creds and keys in the clear: ' +
        'pass decrypt: true to export them decrypted',
    )
  }
  return withStore(
    store,
    'options.store',
    async (source) => {
      const run = () => exportSession(nativeOf(source), session, folder, opts)
      // A session without creds is refused by the export before it writes anything: no lease
      // is left behind in the store for a session it does not hold (a mistyped id, say).
      if ((await nativeOf(source).getCreds(session)) === null) return run()
      return asOwner(source, session, opts, run)
    },
    storeOptions,
  )
}

/**
 * Whether two store identities (see NativeStore.identity) might name one store: both Redis,
 * and at least one of them unverified (its server would not say what it is).
 */
function mayBeOneStore(a, b) {
  const kind = (identity) => identity.replace(/^unverified:/, '').split(':')[0]
  const redis = (identity) => kind(identity) === 'redis' || kind(identity) === 'redis-cluster'
  return redis(a) && redis(b) && (a.startsWith('unverified:') || b.startsWith('unverified:'))
}

/**
 * Copies sessions from one store to another, byte for byte, each verified both ways: one
 * session (`options.session`) or all of them. Resolves to `{ sessions: [result, …], skipped }`; migrating
 * all sessions skips (and lists) sessions that have keys but no creds. A session that fails does
 * not stop the others: the call then rejects with the first failure's code, `err.failures`
 * (`[{ session, code, message, mismatches, owner?, storeOption? }]`, every one; `owner` and
 * `storeOption` for a session refused ERR_SESSION_LOCKED) and `err.result` (what was copied).
 * Each session is copied as the temporary owner of both its source and its target session
 * (no owner writes either meanwhile): one another owner holds is refused unless `takeover`.
 * From an encrypted store into one without encryption is refused ERR_INVALID_ARG, before
 * either store is opened, unless `decrypt: true`; between encrypted stores (with the same key
 * or others) and from a plain store into an encrypted one, the values are sealed by the target.
 */
async function migrate(options = {}) {
  const names = ['from', 'to', 'session', 'fromOptions', 'toOptions', 'batchSize', 'onProgress', 'overwrite', 'takeover', 'decrypt']
  const opts = args.transferOptions(options ?? {}, names, DEFAULT_BATCH_SIZE)
  const { from, to, session, fromOptions, toOptions } = opts.given
  const decrypt = decryptOption(opts.given.decrypt)
  if (session !== undefined) args.sessionId(session)
  // Both stores checked before either is opened: opening `from` may create its file.
  args.storeOrUrl(from, 'options.from', AuthStore)
  args.storeOrUrl(to, 'options.to', AuthStore)
  args.differentStores(from, to)
  // The values of an encrypted store stay sealed: into a store without encryption only when
  // told. Refused before either store is opened, so that nothing is written.
  if (!decrypt && isEncrypted(from, fromOptions, 'options.fromOptions', 'options.from') && !isEncrypted(to, toOptions, 'options.toOptions', 'options.to')) {
    throw storeError(
      ErrorCodes.INVALID_ARG,
      'options.from is encrypted and options.to is not: the target would hold the creds and keys in the clear. ' +
        'Open options.to with encryption, or pass decrypt: true to copy them decrypted',
    )
  }
  return withStore(from, 'options.from', (source) =>
    withStore(to, 'options.to', async (target) => {
      // One store under two names (two paths of one file, two URLs of one Redis): copying it
      // onto itself with overwrite would delete what it copies.
      const [a, b] = [nativeOf(source).identity, nativeOf(target).identity]
      if (a === b) throw storeError(ErrorCodes.INVALID_ARG, 'options.from and options.to are the same store')
      if (opts.overwrite && mayBeOneStore(a, b)) {
        throw storeError(
          ErrorCodes.INVALID_ARG,
          'cannot tell whether options.from and options.to are the same Redis (the server does not let this user run INFO), ' +
            'and overwrite would then delete what it copies: migrate without overwrite, or as a user allowed to run INFO',
        )
      }
      const names = session === undefined ? await source.sessions() : [session]
      const sessions = []
      const skipped = []
      const failures = []
      for (const name of names) {
        try {
          // Keys without creds are an unfinished import or a broken session: not one to copy.
          // Inside the try: creds that cannot be read (ERR_STORE_CORRUPT from the byte check of
          // reads) are this session's failure, not the end of the migration.
          if ((await nativeOf(source).getCreds(name)) === null) {
            if (session === undefined) {
              skipped.push({ session: name, reason: 'it has keys but no creds' })
              continue
            }
            // Refused before any lease is taken: none is left behind in either store for a
            // session the source does not hold (a mistyped id, say). As copySession says it.
            throw storeError(ErrorCodes.INVALID_ARG, `session ${JSON.stringify(name)} has no creds in the source: there is nothing to copy`)
          }
          const copied = await asOwner(source, name, { takeover: opts.takeover, storeOption: 'from' }, () =>
            asOwner(target, name, { takeover: opts.takeover, storeOption: 'to' }, async (fence) => {
              const from = await storeSource(nativeOf(source), name)
              return copySession(from, nativeOf(target), name, { ...opts, fence })
            }),
          )
          sessions.push(copied)
        } catch (err) {
          if (session !== undefined || !isAuthStoreError(err)) throw err
          // One session failing leaves the others to copy; all failures are reported at the end.
          const failure = { session: name, code: err.code, message: err.message, mismatches: err.mismatches ?? [] }
          if (err.owner !== undefined) failure.owner = err.owner
          if (err.storeOption !== undefined) failure.storeOption = err.storeOption
          failures.push(failure)
        }
      }
      if (failures.length > 0) {
        const err = storeError(
          failures[0].code,
          `${failures.length} of ${names.length - skipped.length} sessions could not be migrated: ` +
            failures.map((f) => `${JSON.stringify(f.session)}: ${f.message}`).join('; '),
        )
        err.failures = failures
        err.result = { sessions, skipped }
        throw err
      }
      return { sessions, skipped }
    }, toOptions, 'to'),
  fromOptions, 'from')
}

module.exports = { importFolder, exportFolder, migrate }
