'use strict'
// Store URLs can carry passwords (`redis://user:pass@host`, `redis+unix:///s.sock?pass=…`):
// whatever we print or put in a message shows them with the password replaced by `***`.

// One rule for the whole package: the core's (src/core/url.rs `redact`), through the binding.
const { redactUrl: redactWithCore } = require('./native.js')

/**
 * `url` with its password hidden: `scheme://user:***@host…` (`:***@` without a user, one
 * password for every node of a `redis+cluster://` list), `?pass=***`. File paths, SQLite
 * URLs and URLs without a password come back as they are.
 */
function redactUrl(url) {
  return typeof url === 'string' ? redactWithCore(url) : url
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
