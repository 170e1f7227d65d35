// fleet-100: the fleet workload (fleet.mjs) with N = 100 sessions (lib/sizes.mjs: fleet100).
import { fleetMetrics, runFleet } from './fleet.mjs'

export const metrics = fleetMetrics(100)
export const run = (ctx) => runFleet(ctx, ctx.sizes.fleet100)
