// The part of autocannon 9's API the bench uses (the package ships no types).
declare module "autocannon" {
    type Options = { url: string; method?: string; connections?: number; duration?: number; timeout?: number; amount?: number; headers?: Record<string, string>; body?: string };
    type Stats = { average: number; p50: number; p99: number };
    type Result = { requests: Stats; latency: Stats; non2xx: number; errors: number };
    export default function autocannon(options: Options): Promise<Result>;
}
