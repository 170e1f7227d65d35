'use strict'
// A native store seen with whole app-state versions (lib/app-state.js): what a
// useMultiFileAuthState folder holds, one `app-state-sync-version-<id>.json` per value. The
// export reads and verifies through it; store-to-store copies (migrate) need no such view: both
// ends understand the pieces, so they are copied byte for byte like any key.

const appState = require('../app-state.js')
const codec = require('../codec.js')
const wire = require('../wire.js')

class WholeValues {
  #native

  constructor(native) {
    this.#native = native
  }

  getCreds(session) {
    return this.#native.getCreds(session)
  }

  /** The session's keys, `[{ type, id, bytes }]`, each app-state version once (its pieces' bytes counted). */
  async list(session) {
    return appState.foldList(wire.readKeyList(await this.#native.listKeys(session)))
  }

  /**
   * The blobs of `ids` of `type` (null where absent): an app-state version's header is read with
   * its pieces, in one read, and comes back as the blob of the whole value.
   */
  async read(session, type, ids) {
    if (type !== appState.TYPE) return wire.splitResults(await this.#native.getKeys(session, type, ids), ids.length)
    const asked = []
    for (const id of ids) {
      asked.push(id)
      for (let k = 0; k < appState.PIECES; k++) asked.push(appState.pieceId(id, k))
    }
    const blobs = wire.splitResults(await this.#native.getKeys(session, type, asked), asked.length)
    return ids.map((id, i) => {
      const at = i * (appState.PIECES + 1)
      const blob = blobs[at]
      if (blob === null) return null
      const header = codec.decodeValue(blob)
      if (!appState.isHeader(header)) return blob
      const piece = (k) => (blobs[at + 1 + k] === null ? null : codec.decodeValue(blobs[at + 1 + k]))
      return codec.encodeBlob(appState.assemble(id, header, piece), `${type} ${JSON.stringify(id)}`)
    })
  }
}

module.exports = { WholeValues }
