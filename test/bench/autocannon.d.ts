// Minimal types for the parts of autocannon's programmatic API the benchmark uses (the package ships none).
declare module 'autocannon' {
  interface AutocannonOptions {
    url: string
    connections?: number
    pipelining?: number
    duration?: number
    method?: string
    headers?: Record<string, string>
    body?: string
    timeout?: number
  }
  interface Stats { average: number, mean: number, stddev: number, min: number, max: number, p50: number, p90: number, p99: number, total?: number }
  interface AutocannonResult {
    requests: Stats & { sent: number }
    latency: Stats & { p97_5: number, p99: number }
    throughput: Stats
    errors: number
    timeouts: number
    non2xx: number
    duration: number
    '2xx': number
  }
  function autocannon (options: AutocannonOptions): Promise<AutocannonResult>
  export default autocannon
}
