// Workload sizes. FULL is what the issue specifies; QUICK (BENCH_QUICK=1) is a smoke mode that
// exercises every code path in about two minutes. Ratios from QUICK are indicative only.
export const FULL = {
  preKeys: 812, // one upload batch of Baileys >= 7.0.0-rc.9
  preKeyGets: 2000,
  microOps: 10_000,
  microWarmupMessages: 20, // a ~1.9 KB session record
  fanoutDevices: 256,
  fanoutRounds: 20,
  chatMessages: 2000,
  appstateIterations: 200,
  appstateEntries: 5000,
  coldstartSessions: 1000,
  // fleet: sessions in one store (N/2 pairs talking at once) and messages over all of them.
  fleet100: { sessions: 100, messages: 1000 },
  // 2 per pair (one each way): at N = 1,000 every promise costs Baileys O(N) on Node 20 (one
  // AsyncLocalStorage per session's addTransactionCapability), ~25 ms of CPU per message.
  fleet1000: { sessions: 1000, messages: 1000 },
  idleSessions: 100_000,
}

// fixtures make the largest fleet once; fleet-100 uses its first devices.
export const fleetSessions = (z) => [z.fleet100.sessions, z.fleet1000.sessions]

export const QUICK = {
  preKeys: 812,
  preKeyGets: 300,
  microOps: 1000,
  microWarmupMessages: 20,
  fanoutDevices: 16,
  fanoutRounds: 5,
  chatMessages: 100,
  appstateIterations: 10,
  appstateEntries: 1000,
  coldstartSessions: 100,
  fleet100: { sessions: 10, messages: 40 },
  fleet1000: { sessions: 40, messages: 80 },
  idleSessions: 2000,
}
