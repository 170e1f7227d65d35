// ES module entry: the same API as index.js (the CommonJS entry), with named exports.
import api from './index.js'

export const { useRustAuthState, openStore, AuthStore, importFolder, exportFolder, migrate, rekey, encryptStore, decryptStore, ErrorCodes, isAuthStoreError } = api
export default api
