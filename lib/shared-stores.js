'use strict'
// The stores useRustAuthState shares: one open store per store, so that a thousand sessions on
// the default store use one database connection, not a thousand. A store is what it holds (a
// file's device and inode, a Redis server, database and key prefix: `native.identity`), so
// `./auth.db` and `sqlite:///abs/auth.db` share one; URLs only find an open store quickly.
// Each session holds a reference, and the store closes when the last one is released.

const path = require('node:path')
const { NativeStore } = require('./native.js')
const args = require('./args.js')
const { AuthStore } = require('./store.js')

/** identity -> { store: AuthStore, users, urlKeys } */
const sharedByIdentity = new Map()
/** URL key -> Promise of the entry above, for the URLs that opened or found it */
const sharedByUrl = new Map()

/**
 * A URL's key in `sharedByUrl`: a SQLite file's path made absolute (so `./auth.db` and
 * `sqlite:auth.db` find one entry), any other store its URL. `parsed` is parseStoreUrl's answer.
 */
function sharedStoreKey(url, parsed) {
  return parsed.kind === 'sqlite-file' ? `sqlite:${path.resolve(parsed.path)}` : url
}

function forgetShared(entry) {
  if (sharedByIdentity.get(entry.identity) === entry) sharedByIdentity.delete(entry.identity)
  for (const key of entry.urlKeys) sharedByUrl.delete(key)
}

/** Opens the store `url` names, or finds it open; resolves to its entry (not yet counted). */
function findOrOpenShared(url, parsed) {
  const key = sharedStoreKey(url, parsed)
  let found = sharedByUrl.get(key)
  if (!found) {
    found = NativeStore.open(url).then(async (native) => {
      const open = sharedByIdentity.get(native.identity)
      if (open && !open.store.closed) {
        // The same store through another URL: use the one already open.
        await native.close()
        open.urlKeys.add(key)
        return open
      }
      const entry = { identity: native.identity, users: 0, urlKeys: new Set([key]), store: undefined }
      // An explicit store.close() closes it for every session: forget it, so the next
      // useRustAuthState opens it anew.
      entry.store = new AuthStore(native, url, () => forgetShared(entry))
      sharedByIdentity.set(entry.identity, entry)
      return entry
    })
    found.catch(() => {
      if (sharedByUrl.get(key) === found) sharedByUrl.delete(key)
    })
    sharedByUrl.set(key, found)
  }
  return found
}

/** A counted reference to the shared store of `url`; `release()` gives it back. */
async function acquireShared(url) {
  const parsed = args.sharedStoreUrl(url)
  let entry = await findOrOpenShared(url, parsed)
  // Closed meanwhile by its last session or by an explicit close(): open it again.
  while (entry.store.closed) {
    forgetShared(entry)
    entry = await findOrOpenShared(url, parsed)
  }
  entry.users++
  return {
    store: entry.store,
    release() {
      if (--entry.users > 0) return Promise.resolve()
      forgetShared(entry)
      return entry.store.close()
    },
  }
}

module.exports = { acquireShared }
