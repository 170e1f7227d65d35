// A dependency-free SVG chart for the README: for each workload metric, one bar per store,
// showing its throughput relative to the better-sqlite3 peer (WAL, synchronous=FULL) on a log
// scale (the stores span three orders of magnitude). Times are inverted so that taller is
// always better.
import { relative } from './report.mjs'

const COLORS = {
  'ours-sqlite': '#d9480f',
  'ours-redis': '#f59f00',
  'bsqlite-full': '#1c7ed6',
  'bsqlite-normal': '#74c0fc',
  ioredis: '#ae3ec9',
  'ours-postgres': '#c2255c',
  pg: '#336791',
  'ours-mysql': '#e8590c',
  mysql2: '#00758f',
  'multi-file': '#868e96',
  'memory-map': '#2f9e44',
}

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
const fmt = (r) => (r >= 10 ? r.toFixed(0) : r >= 1 ? r.toFixed(1) : r.toFixed(2)) + '×'

export function renderChart({ medians, meta, stores, workloads, metricsOf }) {
  const groups = []
  for (const workload of workloads) {
    for (const [key, metric] of Object.entries(metricsOf(workload))) {
      const bars = stores.map((s) => ({ store: s, value: relative(medians, workload, key, metric.higher, s.id, 'bsqlite-full') }))
      if (bars.some((b) => Number.isFinite(b.value) && b.store.id !== 'bsqlite-full')) groups.push({ name: metric.short, bars })
    }
  }
  const values = groups.flatMap((g) => g.bars.map((b) => b.value)).filter((v) => Number.isFinite(v) && v > 0)
  const lo = Math.floor(Math.log10(Math.min(1, ...values)))
  // The Map is hundreds of times faster on some workloads; the axis stops at 100× so that the
  // stores stay readable, and a bar past the top is cut and labelled with its value.
  const hi = Math.min(2, Math.ceil(Math.log10(Math.max(1, ...values))))
  const top10 = 10 ** hi

  const W = 1000
  const legendRows = []
  {
    // Legend entries flow into rows that fit the width (~6.6 px per character at 12 px).
    let row = []
    let width = 0
    for (const st of stores) {
      const w = 30 + st.label.length * 6.6
      if (row.length && width + w > W - 80) {
        legendRows.push(row)
        row = []
        width = 0
      }
      row.push({ store: st, x: width })
      width += w
    }
    if (row.length) legendRows.push(row)
  }
  const left = 64
  const right = 16
  const top = 64 + legendRows.length * 20
  const plotH = 340
  const bottom = 56
  const H = top + plotH + bottom
  const plotW = W - left - right
  const y = (v) => top + plotH - ((Math.log10(v) - lo) / (hi - lo || 1)) * plotH
  const groupW = plotW / Math.max(1, groups.length)
  const barW = Math.min(18, (groupW - 16) / stores.length)

  const svg = []
  svg.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif" font-size="12">`)
  svg.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`)
  svg.push(`<text x="${left}" y="22" font-size="16" font-weight="600" fill="#212529">Throughput relative to better-sqlite3 (WAL, synchronous=FULL): higher is better, log scale</text>`)
  svg.push(`<text x="${left}" y="40" fill="#495057">${esc(`${meta.quick ? 'QUICK mode (smaller sizes) · ' : ''}medians of ${meta.runs} run${meta.runs === 1 ? '' : 's'} · ${meta.machine} · Node ${meta.node} · Baileys ${meta.versions.baileys} · ${meta.date.slice(0, 10)}`)}</text>`)

  legendRows.forEach((row, ri) => {
    const ly = 52 + ri * 20
    for (const { store: st, x } of row) {
      svg.push(`<rect x="${left + x}" y="${ly}" width="12" height="12" fill="${COLORS[st.id] ?? '#000'}"/>`)
      svg.push(`<text x="${left + x + 16}" y="${ly + 10.5}" fill="#212529">${esc(st.label)}</text>`)
    }
  })

  // Grid: decades, with 2× and 5× ticks between them; the reference (1×) dashed.
  for (let e = lo; e <= hi; e++) {
    for (const m of e === hi ? [1] : [1, 2, 5]) {
      const v = m * 10 ** e
      const yy = y(v).toFixed(1)
      const major = m === 1
      svg.push(`<line x1="${left}" x2="${W - right}" y1="${yy}" y2="${yy}" stroke="${v === 1 ? '#1c7ed6' : major ? '#ced4da' : '#f1f3f5'}" stroke-width="${v === 1 ? 1.5 : 1}"${v === 1 ? ' stroke-dasharray="5 3"' : ''}/>`)
      svg.push(`<text x="${left - 6}" y="${(+yy + 4).toFixed(1)}" text-anchor="end" fill="${major ? '#495057' : '#adb5bd'}">${fmt(v)}</text>`)
    }
  }

  // Bars grow from the 1× line: up when faster than the reference, down when slower.
  const base = y(1)
  groups.forEach((g, gi) => {
    const x0 = left + gi * groupW + (groupW - barW * stores.length) / 2
    g.bars.forEach((b, bi) => {
      if (!Number.isFinite(b.value) || b.value <= 0) return
      const x = x0 + bi * barW
      const clipped = b.value > top10
      const yv = y(Math.min(b.value, top10))
      const y1 = Math.min(yv, base)
      const h = Math.max(1, Math.abs(base - yv))
      svg.push(
        `<rect x="${x.toFixed(1)}" y="${y1.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${COLORS[b.store.id] ?? '#000'}"><title>${esc(`${g.name} · ${b.store.label}: ${fmt(b.value)}`)}</title></rect>`,
      )
      if (clipped) {
        svg.push(`<path d="M${x.toFixed(1)} ${(yv + 6).toFixed(1)} l${((barW - 2) / 2).toFixed(1)} -4 l${((barW - 2) / 2).toFixed(1)} 4" stroke="#ffffff" stroke-width="2" fill="none"/>`)
        svg.push(`<text x="${(x + (barW - 2) / 2).toFixed(1)}" y="${(yv - 4).toFixed(1)}" text-anchor="middle" font-size="10" font-weight="600" fill="${COLORS[b.store.id] ?? '#000'}">${fmt(b.value)}</text>`)
      } else if (b.store.id.startsWith('ours')) {
        // Ours are labelled, vertically so that neighbours do not collide.
        const cx = x + (barW - 2) / 2 + 3.5
        const up = b.value >= 1
        const ty = up ? yv - 4 : Math.max(yv, base + 1) + 4
        svg.push(`<text transform="translate(${cx.toFixed(1)} ${ty.toFixed(1)}) rotate(-90)" text-anchor="${up ? 'start' : 'end'}" font-size="10" font-weight="600" fill="${COLORS[b.store.id]}">${fmt(b.value)}</text>`)
      }
    })
    svg.push(`<text x="${(left + gi * groupW + groupW / 2).toFixed(1)}" y="${top + plotH + 18}" text-anchor="middle" font-weight="600" fill="#212529">${esc(g.name)}</text>`)
  })
  svg.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}" stroke="#adb5bd"/>`)
  svg.push(`<text x="${left}" y="${H - 12}" fill="#868e96">Redis rows: private redis-server on loopback, appendonly no. Times (prekeys set, coldstart) are inverted. Generated by bench/run.mjs.</text>`)
  svg.push('</svg>')
  return svg.join('\n') + '\n'
}
