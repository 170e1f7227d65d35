'use strict'
// Store URLs can carry passwords (`redis://user:pass@host`, `redis+unix:///s.sock?pass=…`):
// whatever we print or put in a message shows them with the password replaced by `***`.

const HIDDEN = '***'
/** `scheme://`, for schemes whose URLs may hold credentials (everything but SQLite files). */
const AUTHORITY_URL = /^([a-z][a-z0-9+.-]*):\/\//i
const NO_CREDENTIALS = new Set(['sqlite', 'file'])
/** Query parameters that hold a password (redis-rs reads `pass` for unix sockets). */
const PASSWORD_PARAM = /([?&](?:pass|password)=)[^&#]*/gi

/**
 * `url` with its password hidden: `scheme://user:***@host…` (`:***@` without a user, one
 * password for every node of a `redis+cluster://` list), `?password=***`. File paths, SQLite
 * URLs and URLs without a password come back as they are.
 */
function redactUrl(url) {
  if (typeof url !== 'string') return url
  const scheme = AUTHORITY_URL.exec(url)
  if (!scheme || NO_CREDENTIALS.has(scheme[1].toLowerCase())) return url
  // The credentials end at the last `@`: a password may hold `/`, `?`, `#` or `@` unencoded.
  const at = url.lastIndexOf('@')
  const colon = url.indexOf(':', scheme[0].length)
  if (at === -1 || colon === -1 || colon > at) return redactParams(url)
  return `${url.slice(0, colon + 1)}${HIDDEN}${redactParams(url.slice(at))}`
}

function redactParams(text) {
  return text.replace(PASSWORD_PARAM, `$1${HIDDEN}`)
}

/**
 * `text` with every URL in it redacted: the `urls` given (found wherever they appear, whatever
 * they hold), then every word that looks like a URL. For messages that may quote a URL.
 */
function redactText(text, urls = []) {
  let out = String(text)
  for (const url of urls) {
    const hidden = redactUrl(url)
    if (typeof url === 'string' && url !== '' && hidden !== url) out = out.split(url).join(hidden)
  }
  return out.replace(/[a-z][a-z0-9+.-]*:\/\/[^\s"'`<>]*/gi, redactUrl)
}

module.exports = { redactUrl, redactText }
