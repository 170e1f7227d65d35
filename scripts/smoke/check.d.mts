// The types of check.mjs, for ts.mts (compiled with `tsc --strict`).
import type { openStore, useRustAuthState } from 'baileys-rust-auth'

export declare function smoke(api: { useRustAuthState: typeof useRustAuthState; openStore: typeof openStore }, flavor: string): Promise<void>
