// The send-to-deliver latency chart: each series' CDF drawn from its latency histogram, log-scale x, as a
// plain standalone SVG (no library, no browser).
import type { LatencyHistogram } from '../stages/delivery-load.ts'

export interface ChartSeries {
  label: string
  histogram: LatencyHistogram
  /** The exact percentiles, for the legend (the curve itself is as fine as the histogram's buckets). */
  p50: number
  p99: number
}

const WIDTH = 760
const HEIGHT = 420
const LEFT = 56
const RIGHT = 20
const TOP = 40
const BOTTOM = 96
const COLORS = ['#1f77b4', '#2ca02c', '#d62728', '#9467bd', '#ff7f0e']

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
const num = (n: number) => Number(n.toFixed(1))

/** Upper edge of each bucket with the fraction of samples at or below it. */
function cdf ({ fromMs, perDecade, counts }: LatencyHistogram): Array<[number, number]> {
  const total = counts.reduce((a, b) => a + b, 0)
  let seen = 0
  return counts.map((count, i) => {
    seen += count
    return [fromMs * 10 ** ((i + 1) / perDecade), seen / total]
  })
}

function label (ms: number): string {
  return ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`
}

const rounded = (ms: number) => label(Number(ms.toPrecision(ms < 1 ? 1 : 2)))

export function latencyChart (title: string, series: ChartSeries[]): string {
  const curves = series.filter((s) => s.histogram.counts.some((c) => c > 0)).map((s) => ({ ...s, points: cdf(s.histogram) }))
  const firstMs = Math.min(...curves.map((c) => c.points.find(([, f]) => f > 0)?.[0] ?? Infinity))
  const lastMs = Math.max(...curves.map((c) => c.points[c.points.length - 1]![0]))
  const lo = Math.floor(Math.log10(Number.isFinite(firstMs) ? firstMs : 1) - 0.05)
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(Number.isFinite(lastMs) ? lastMs : 10)))
  const plotW = WIDTH - LEFT - RIGHT
  const plotH = HEIGHT - TOP - BOTTOM
  const x = (ms: number) => LEFT + (Math.log10(ms) - lo) / (hi - lo) * plotW
  const y = (fraction: number) => TOP + (1 - fraction) * plotH
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>`,
    `<text x="${LEFT}" y="22" font-size="14" font-weight="600">${escape(title)}</text>`
  ]
  for (let decade = lo; decade <= hi; decade++) {
    for (const step of decade < hi ? [1, 2, 5] : [1]) {
      const ms = step * 10 ** decade
      const major = step === 1
      out.push(`<line x1="${num(x(ms))}" y1="${TOP}" x2="${num(x(ms))}" y2="${TOP + plotH}" stroke="${major ? '#ccc' : '#eee'}"/>`)
      out.push(`<text x="${num(x(ms))}" y="${TOP + plotH + 16}" text-anchor="middle" fill="${major ? '#333' : '#888'}">${label(Number(ms.toPrecision(3)))}</text>`)
    }
  }
  for (const fraction of [0, 0.25, 0.5, 0.75, 0.9, 0.99, 1]) {
    const dashed = fraction === 0.5 || fraction === 0.99 ? ' stroke-dasharray="4 3"' : ''
    out.push(`<line x1="${LEFT}" y1="${num(y(fraction))}" x2="${LEFT + plotW}" y2="${num(y(fraction))}" stroke="#ddd"${dashed}/>`)
    // 100% would overlap 99%: its line alone marks the top.
    if (fraction < 1) out.push(`<text x="${LEFT - 6}" y="${num(y(fraction) + 4)}" text-anchor="end" fill="#333">${Math.round(fraction * 100)}%</text>`)
  }
  out.push(`<text x="${LEFT + plotW / 2}" y="${TOP + plotH + 36}" text-anchor="middle" fill="#333">send-to-deliver latency (log scale)</text>`)
  curves.forEach((curve, i) => {
    const color = COLORS[i % COLORS.length]!
    // A step function: each bucket's share is reached at its upper edge.
    // A step function from the lower edge of the first bucket with samples: each bucket's share is reached at
    // its upper edge.
    const first = curve.points.findIndex(([, fraction]) => fraction > 0)
    const start = curve.points[first]![0] / 10 ** (1 / curve.histogram.perDecade)
    let path = `M${num(x(start))},${num(y(0))}`
    let previous = 0
    for (const [ms, fraction] of curve.points.slice(first)) {
      if (fraction === previous) continue
      path += `H${num(x(ms))}V${num(y(fraction))}`
      previous = fraction
    }
    out.push(`<path d="${path}" fill="none" stroke="${color}" stroke-width="2"/>`)
    const legendY = TOP + plotH + 56 + Math.floor(i / 2) * 18
    const legendX = LEFT + (i % 2) * (plotW / 2)
    out.push(`<line x1="${legendX}" y1="${legendY - 4}" x2="${legendX + 18}" y2="${legendY - 4}" stroke="${color}" stroke-width="3"/>`)
    out.push(`<text x="${legendX + 24}" y="${legendY}" fill="#333">${escape(curve.label)}: p50 ${rounded(curve.p50)}, p99 ${rounded(curve.p99)}</text>`)
  })
  out.push('</svg>')
  return `${out.join('\n')}\n`
}
