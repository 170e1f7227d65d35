'use strict'
// The stores useRustAuthState shares: one open store per store, so that a thousand sessions on
// the default store use one database connection, not a thousand. A store is what it holds (a
// file's device and inode, a Redis server, database and key prefix: `native.identity`), so
// `./auth.db` and `sqlite:///abs/auth.db` share one; URLs only find an open store quickly.
// Each session holds a reference, and the store closes when the last one is released.

const path = require('node:path')
const { createHash } = require('node:crypto')
const { NativeStore } = require('./native.js')
const args = require('./args.js')
const { AuthStore } = require('./store.js')

/**
 * The part of a sharing key that tells apart the keys a store is opened with: a hash of the
 * key (never the key itself), so that a caller with another key (or none) never finds a store
 * opened with this one, and opens its own (which then checks its key).
 */
function keyTag(encryption) {
  if (!encryption) return 'plain'
  const hash = createHash('sha256')
  if (encryption.key !== undefined) hash.update('key\0').update(encryption.key)
  else hash.update('passphrase\0').update(encryption.passphrase)
  return hash.digest('hex')
}

/** identity + key tag -> { store: AuthStore, users, urlKeys } */
const sharedByIdentity = new Map()
/** URL key -> Promise of the entry above, for the URLs that opened or found it */
const sharedByUrl = new Map()

/**
 * A URL's key in `sharedByUrl`: a SQLite file's path made absolute (so `./auth.db` and
 * `sqlite:auth.db` find one entry), any other store its URL. `parsed` is parseStoreUrl's answer.
 */
function sharedStoreKey(url, parsed, tag) {
  return `${tag}\0${parsed.kind === 'sqlite-file' ? `sqlite:${path.resolve(parsed.path)}` : url}`
}

function forgetShared(entry) {
  if (sharedByIdentity.get(entry.sharingKey) === entry) sharedByIdentity.delete(entry.sharingKey)
  for (const key of entry.urlKeys) sharedByUrl.delete(key)
}

/** Opens the store `url` names, or finds it open; resolves to its entry (not yet counted). */
function findOrOpenShared(url, parsed, encryption) {
  const tag = keyTag(encryption)
  const key = sharedStoreKey(url, parsed, tag)
  let found = sharedByUrl.get(key)
  if (!found) {
    found = NativeStore.open(url, encryption ? { encryption } : undefined).then(async (native) => {
      const sharingKey = `${tag}\0${native.identity}`
      const open = sharedByIdentity.get(sharingKey)
      if (open && !open.store.closed) {
        // The same store through another URL: use the one already open.
        await native.close()
        open.urlKeys.add(key)
        return open
      }
      const entry = { sharingKey, users: 0, urlKeys: new Set([key]), store: undefined }
      // An explicit store.close() closes it for every session: forget it, so the next
      // useRustAuthState opens it anew.
      entry.store = new AuthStore(native, url, () => forgetShared(entry), Boolean(encryption))
      sharedByIdentity.set(entry.sharingKey, entry)
      return entry
    })
    found.catch(() => {
      if (sharedByUrl.get(key) === found) sharedByUrl.delete(key)
    })
    sharedByUrl.set(key, found)
  }
  return found
}

/**
 * A counted reference to the shared store of `url`, opened with `encryption` (or none);
 * `release()` gives it back.
 */
async function acquireShared(url, encryption) {
  const parsed = args.sharedStoreUrl(url)
  let entry = await findOrOpenShared(url, parsed, encryption)
  // Closed meanwhile by its last session or by an explicit close(): open it again.
  while (entry.store.closed) {
    forgetShared(entry)
    entry = await findOrOpenShared(url, parsed, encryption)
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
