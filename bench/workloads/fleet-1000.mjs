// fleet-1000: the fleet workload (fleet.mjs) with N = 1000 sessions (lib/sizes.mjs: fleet1000).
import { fleetMetrics, runFleet } from './fleet.mjs'

export const metrics = fleetMetrics(1000)
export const run = (ctx) => runFleet(ctx, ctx.sizes.fleet1000)
