'use strict'
// importFolder, exportFolder and migrate: their arguments through the gate (lib/args.js), the
// stores they name opened (and closed) here, and the copy engine (lib/transfer/copy.js) run
// over one session or all of them. Types and docs: index.d.ts.

const args = require('../args.js')
const { defaultStoreUrl } = require('../default-store.js')
const { ErrorCodes, isAuthStoreError, storeError } = require('../errors.js')
const { AuthStore, openStore, nativeOf } = require('../store.js')
const { DEFAULT_BATCH_SIZE, folderSource, storeSource, copySession } = require('./copy.js')
const { exportSession } = require('./export.js')

/** Runs `work` on the store an option names: an AuthStore as is, a URL opened and closed here. */
async function withStore(store, what, work, storeOptions) {
  if (args.isAuthStore(args.storeOrUrl(store, what, AuthStore), AuthStore, what)) return work(store)
  const opened = await openStore(store, storeOptions)
  try {
    return await work(opened)
  } finally {
    await opened.close()
  }
}

/**
 * Imports a useMultiFileAuthState folder into a store as one session, exactly: creds and
 * every key file, ids un-mangled per type and 6.7-era values normalised. The folder is only
 * read. Re-running an interrupted import resumes it; the import ends by verifying the
 * session both ways. Resolves to `{ session, keys, written, unchanged, removed, problems }`,
 * `problems` naming every file that could not be imported and why.
 */
async function importFolder(folder, options = {}) {
  const opts = args.transferOptions(options ?? {}, ['session', 'store', 'types', 'storeOptions', 'batchSize', 'onProgress', 'overwrite'], DEFAULT_BATCH_SIZE)
  const { session, store = defaultStoreUrl(), types = [], storeOptions } = opts.given
  args.sessionId(session)
  args.folder(folder)
  const source = await folderSource(folder, { types: args.keyTypes(types) })
  return withStore(store, 'options.store', (target) => copySession(source, nativeOf(target), session, opts), storeOptions)
}

/**
 * Writes a session as a folder that Baileys' useMultiFileAuthState opens. The folder must not
 * exist or be empty; it appears complete and verified, or not at all.
 */
async function exportFolder(folder, options = {}) {
  const opts = args.transferOptions(options ?? {}, ['session', 'store', 'storeOptions', 'batchSize', 'onProgress'], DEFAULT_BATCH_SIZE)
  const { session, store = defaultStoreUrl(), storeOptions } = opts.given
  args.sessionId(session)
  args.folder(folder)
  return withStore(store, 'options.store', (source) => exportSession(nativeOf(source), session, folder, opts), storeOptions)
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
 * (`[{ session, code, message, mismatches }]`, every one) and `err.result` (what was copied).
 */
async function migrate(options = {}) {
  const opts = args.transferOptions(options ?? {}, ['from', 'to', 'session', 'fromOptions', 'toOptions', 'batchSize', 'onProgress', 'overwrite'], DEFAULT_BATCH_SIZE)
  const { from, to, session, fromOptions, toOptions } = opts.given
  if (session !== undefined) args.sessionId(session)
  // Both stores checked before either is opened: opening `from` may create its file.
  args.storeOrUrl(from, 'options.from', AuthStore)
  args.storeOrUrl(to, 'options.to', AuthStore)
  args.differentStores(from, to)
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
          if (session === undefined && (await nativeOf(source).getCreds(name)) === null) {
            skipped.push({ session: name, reason: 'it has keys but no creds' })
            continue
          }
          const from = await storeSource(nativeOf(source), name)
          sessions.push(await copySession(from, nativeOf(target), name, opts))
        } catch (err) {
          if (session !== undefined || !isAuthStoreError(err)) throw err
          // One session failing leaves the others to copy; all failures are reported at the end.
          failures.push({ session: name, code: err.code, message: err.message, mismatches: err.mismatches ?? [] })
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
    }, toOptions),
  fromOptions)
}

module.exports = { importFolder, exportFolder, migrate }
