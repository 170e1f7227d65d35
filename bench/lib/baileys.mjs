// The Baileys module every child uses: the repo's devDependency (bench/ has no copy, so Node
// resolves it from ../node_modules), loaded once per process.
export const baileys = await import('baileys')

export { makeDevice, sendDirect, startSession } from '../../examples/lib/simulated-devices.mjs'

/** JSON text with Buffers as Baileys writes them (the format of every pure-JS peer). */
export const toJSON = (value) => JSON.stringify(value, baileys.BufferJSON.replacer)
export const fromJSON = (text) => JSON.parse(text, baileys.BufferJSON.reviver)
