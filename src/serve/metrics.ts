/** Seconds: the bounds of the latency histograms' buckets. */
const buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

type Histogram = { counts: number[]; sum: number; count: number };

/** The server's counters, written in Prometheus' text format (version 0.0.4) for GET /metrics. */
export class Metrics {
    rows = 0;
    rowErrors = 0;
    tokens = 0;
    private readonly requests = new Map<string, number>();
    private readonly latency = new Map<string, Histogram>();

    /** A finished row: its tokens, and whether it was an error row. */
    row(tokens: number, error: boolean): void {
        this.rows++;
        this.tokens += tokens;
        if (error) this.rowErrors++;
    }

    /** A finished request: its route, status and seconds from its first byte to its answer. */
    request(route: string, status: number, seconds: number): void {
        const key = `route="${route}",code="${status}"`;
        this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
        let histogram = this.latency.get(route);
        if (histogram === undefined) this.latency.set(route, histogram = { counts: buckets.map(() => 0), sum: 0, count: 0 });
        buckets.forEach((bound, i) => { if (seconds <= bound) histogram.counts[i]!++; });
        histogram.sum += seconds;
        histogram.count++;
    }

    text(state: { queueDepth: number; rowsInEngine: number; ready: boolean }): string {
        const lines: string[] = [];
        const metric = (name: string, type: string, help: string, samples: string[]) =>
            lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...samples);
        metric("nemoreward_ready", "gauge", "1 once the model has loaded.", [`nemoreward_ready ${state.ready ? 1 : 0}`]);
        metric("nemoreward_rows_total", "counter", "Rows scored or answered with an error.", [`nemoreward_rows_total ${this.rows}`]);
        metric("nemoreward_row_errors_total", "counter", "Rows that could not be scored (per-row errors).", [`nemoreward_row_errors_total ${this.rowErrors}`]);
        metric("nemoreward_tokens_total", "counter", "Tokens of the conversations scored.", [`nemoreward_tokens_total ${this.tokens}`]);
        metric("nemoreward_queue_depth", "gauge", "Rows waiting for the engine.", [`nemoreward_queue_depth ${state.queueDepth}`]);
        metric("nemoreward_rows_in_engine", "gauge", "Rows being scored.", [`nemoreward_rows_in_engine ${state.rowsInEngine}`]);
        metric("nemoreward_requests_total", "counter", "HTTP requests answered, by route and status.",
            [...this.requests].map(([labels, n]) => `nemoreward_requests_total{${labels}} ${n}`));
        metric("nemoreward_request_duration_seconds", "histogram", "Seconds from a request's arrival to its answer, by route.",
            [...this.latency].flatMap(([route, h]) => [
                ...buckets.map((bound, i) => `nemoreward_request_duration_seconds_bucket{route="${route}",le="${bound}"} ${h.counts[i]}`),
                `nemoreward_request_duration_seconds_bucket{route="${route}",le="+Inf"} ${h.count}`,
                `nemoreward_request_duration_seconds_sum{route="${route}"} ${h.sum}`,
                `nemoreward_request_duration_seconds_count{route="${route}"} ${h.count}`,
            ]));
        return `${lines.join("\n")}\n`;
    }
}
