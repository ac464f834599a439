import { ModelError, RowError, UsageError } from "../errors.js";
import { rewardFields, toScoringTask, type ScoringTask, type TaskKind } from "../conversation/scoringTask.js";
import type { Conversation, ConversationFields } from "../conversation/toConversation.js";
import type { Log } from "../log.js";
import { defaultContextSize } from "../plan/flags.js";
import type { EngineSettings, ScoringPlan, ServerPlan } from "../plan/plan.js";
import { isJsonRow, type InputRow } from "../records/row.js";
import type { Layout } from "../records/toolFields.js";
import { jsonText, type Fields } from "../records/values.js";
import { rewardStats, scoreRow, unscored, type Scored } from "./scoreTask.js";
import { scoredRewards } from "../transforms/rewards.js";

/** A server the rows go to: its protocol, and the model it holds (for --resume, as a local run names it). */
export type Remote = {
    url: string;
    api: "native" | "nim";
    /** `nemoreward serve`: the identity a local run gives the same model file; NIM: its model id at its address. */
    identity: string;
    description: string;
    /** The engine settings the rewards are computed with (the server's), for the .resume records. */
    engine: Required<EngineSettings>;
    /** Rows kept in flight (run.ts's window): batches of the native protocol pipelined, or NIM requests at once. */
    parallel: number;
    scorer(scoring: ScoringPlan, fields: ConversationFields, layout: (kind: TaskKind) => Layout): { score(row: InputRow): Promise<Scored>; summary(): string };
};

type ModelList = { data?: { id: string; nemoreward?: { api: string; identity: string; max_rows: number; engine?: { precise: boolean; flash_attention: boolean; reward_token: number } } }[] };

/** Each engine setting a reward depends on: its flag, and how the server reports it. */
const engineFlags = [
    { key: "precise", flag: "--precise", reported: "precise", shown: (v: unknown) => (v === true ? "on" : "off") },
    { key: "flashAttention", flag: "--flash-attention", reported: "flash_attention", shown: (v: unknown) => (v === true ? "on" : "off") },
    { key: "rewardToken", flag: "--reward-token", reported: "reward_token", shown: (v: unknown) => String(v) },
] as const;

/**
 * The server's engine settings are the server's: an engine flag given here that it does not run with is refused (the
 * rewards would not be the ones asked for); one that only changes speed is noted and left to the server.
 */
function serverEngine(server: ServerPlan, url: string, reported: Record<string, unknown> | undefined, log: Log): Required<EngineSettings> {
    const engine = { precise: false, flashAttention: false, rewardToken: 0 };
    for (const { key, flag, reported: name, shown } of engineFlags) {
        const wanted = server.engine[key];
        if (reported === undefined) {
            if (wanted !== undefined) throw new UsageError(`${flag}: ${url} does not say which ${flag} it scores with (not a \`nemoreward serve\`); leave ${flag} out`);
            continue;
        }
        const value = reported[name];
        if (wanted !== undefined && wanted !== value) throw new UsageError(`${flag}: the server at ${url} scores with ${flag} ${shown(value)}: give ${flag} to \`nemoreward serve\`, not to score --server`);
        (engine as Record<string, unknown>)[key] = value;
    }
    if (server.speedFlags.length > 0) log.info(`${server.speedFlags.join(", ")}: ignored with --server (the server's engine decides)`);
    return engine;
}

/** The model NVIDIA's hosted API serves this reward model as. */
const nimModel = "nvidia/llama-3.1-nemotron-70b-reward";
/** Rows in one request of the native protocol, and requests in flight at once. */
const batchRows = 32;
const pipelined = 8;

/**
 * Asks the server which model it holds (GET /v1/models) and which protocol it speaks: `nemoreward serve` says so in
 * its model entry; any other server is taken for a NIM (OpenAI chat completions: "reward:<x>").
 */
export async function connectServer(server: ServerPlan, log: Log): Promise<Remote> {
    const url = server.url.replace(/\/+$/, "").replace(/\/v1$/, "");
    const http = client(url, server.apiKey, log);
    const models = await http.get("/v1/models") as ModelList;
    const native = models.data?.find((m) => m.nemoreward?.api === "native");
    const api = server.api ?? (native !== undefined ? "native" : "nim");
    if (api === "native" && native === undefined) throw new UsageError(`--server-api native: ${url} is not a \`nemoreward serve\` (its /v1/models names no nemoreward model); try --server-api nim`);
    if (api === "native") {
        const engine = serverEngine(server, url, native!.nemoreward!.engine, log);
        const rows = Math.min(batchRows, native!.nemoreward!.max_rows);
        return {
            url, api, engine, identity: native!.nemoreward!.identity, description: `scoring on ${url} (nemoreward serve, ${native!.id})`, parallel: Math.ceil((rows * pipelined) / 8),
            scorer: (scoring, fields, layout) => summarized(nativeScorer(http, rows, scoring, fields, layout), scoring.field),
        };
    }
    const engine = serverEngine(server, url, undefined, log);
    const model = models.data?.find((m) => m.id === nimModel)?.id ?? models.data?.[0]?.id ?? nimModel;
    return {
        url, api, engine, identity: `${model} at ${url}`, description: `scoring on ${url} (NIM chat completions, ${model})`, parallel: 4,
        scorer: (scoring, fields, layout) => summarized(nimScorer(http, model, scoring, fields, layout), scoring.field),
    };
}

/** The run's summary line as a local run's: the rewards' min, mean and max, the rows with an empty response or special-token text. */
function summarized(scorer: { score(row: InputRow): Promise<Scored> }, field: string): { score(row: InputRow): Promise<Scored>; summary(): string } {
    const stats = rewardStats(), rewards = scoredRewards(field);
    return {
        async score(row) {
            const done = await scorer.score(row);
            const values = done.error === undefined && done.skipped === undefined ? rewards.read(done.out) : undefined;
            if (Array.isArray(values)) stats.add(values, {
                special: done.out.fields["special_tokens_in_content"] === true,
                empty: done.out.task?.conversations.some((c) => c.at(-1)!.content.trim() === "") ?? false,
            });
            return done;
        },
        summary: () => stats.summary(),
    };
}

/** POSTs and GETs JSON; a server that is busy (429, 503) is asked again after its Retry-After; one gone is the run's end. */
function client(url: string, apiKey: string | undefined, log: Log) {
    const headers: Record<string, string> = { "content-type": "application/json", ...(apiKey !== undefined ? { authorization: `Bearer ${apiKey}` } : {}) };
    const request = async (path: string, body?: string): Promise<{ status: number; json: any }> => {
        for (let attempt = 1; ; attempt++) {
            let response: Response;
            try {
                response = await fetch(`${url}${path}`, body === undefined ? { headers } : { method: "POST", headers, body });
            } catch (error) {
                const cause = (error as { cause?: { code?: string; message?: string } }).cause;
                throw new ModelError(`the server at ${url} cannot be reached or went away (${cause?.code ?? cause?.message ?? (error as Error).message}): ` +
                    "the rows written so far are kept; with -o FILE, the same command with --resume continues once it is back", { cause: error });
            }
            const text = await response.text().catch(() => "");
            let json: any;
            try {
                json = JSON.parse(text);
            } catch {
                json = undefined;
            }
            if ((response.status === 429 || response.status === 503) && attempt < 60) {
                const wait = Math.min(30, Number(response.headers.get("retry-after")) || 1);
                if (attempt === 1) log.info(`${url} is busy (${response.status}): asking again in ${wait} s`);
                await new Promise((resolve) => setTimeout(resolve, wait * 1000));
                continue;
            }
            if (response.status === 401 || response.status === 403) throw new ModelError(`${url} refused the API key (${response.status}): set NEMOREWARD_API_KEY`);
            if (response.status !== 200 && response.status !== 400)
                throw new ModelError(`${url}${path} answered ${response.status}: ${json?.error?.message ?? json?.detail ?? text.slice(0, 200)}`);
            return { status: response.status, json };
        }
    };
    return {
        get: async (path: string) => (await request(path)).json,
        post: (path: string, body: string) => request(path, body),
    };
}

/**
 * `nemoreward serve`'s POST /v1/score: rows sent in batches (`rows` each, up to `pipelined` requests in flight), each
 * record as the input wrote it; the fields come back as the server's `score` task made them. The task is read here too:
 * the transforms (rank, filters) group and pick rows by it.
 */
function nativeScorer(http: ReturnType<typeof client>, rows: number, scoring: ScoringPlan, fields: ConversationFields, layout: (kind: TaskKind) => Layout) {
    const options = JSON.stringify({
        field: scoring.field, context_size: scoring.contextSize, on_overlong: scoring.onOverlong, content_special: scoring.contentSpecial,
        ...(fields.messages !== undefined ? { messages_field: fields.messages } : {}),
        prompt_field: fields.prompt, response_field: fields.response, system_field: fields.system,
        // the row messages in score's words: the output is a local run's, byte for byte
        error_words: "cli",
    }).slice(1, -1);
    type Waiting = { row: InputRow; resolve: (scored: Scored) => void; reject: (error: unknown) => void };
    let pending: Waiting[] = [];
    let inFlight = 0, scheduled = false;
    const flush = () => {
        scheduled = false;
        while (pending.length > 0 && inFlight < pipelined) {
            const batch = pending.slice(0, rows);
            pending = pending.slice(rows);
            inFlight++;
            const body = `{"records":[${batch.map(({ row }) => (isJsonRow(row) ? row.text : jsonText(row.record!, true))).join(",")}],${options}}`;
            http.post("/v1/score", body).then(({ status, json }) => {
                if (status !== 200) throw new ModelError(`the server refused a batch of rows: ${json?.error?.message}`);
                batch.forEach(({ row, resolve }, i) => {
                    const out: Fields = json.results[i];
                    const error = typeof out["error"] === "string" ? out["error"] : undefined;
                    const skipped = typeof out["skipped"] === "string" ? out["skipped"] : undefined;
                    resolve({ out: { input: row, fields: out, task: taskOf(row, fields) }, tokens: json.n_tokens?.[i] ?? 0, ...(error !== undefined ? { error } : {}), ...(skipped !== undefined ? { skipped } : {}) });
                });
            }).catch((error: unknown) => {
                for (const { reject } of batch) reject(error);
            }).finally(() => {
                inFlight--;
                flush();
            });
        }
    };
    return {
        score(row: InputRow): Promise<Scored> {
            if (row.record === undefined) return Promise.resolve(unscored(row, undefined, new RowError(row.problem ?? "no record"), layout));
            return new Promise((resolve, reject) => {
                pending.push({ row, resolve, reject });
                // a full batch goes at once; else once the rows read meanwhile have joined it
                if (pending.length >= rows) flush();
                else if (!scheduled) {
                    scheduled = true;
                    setImmediate(flush);
                }
            });
        },
        summary: () => "",
    };
}

/**
 * A NIM (NVIDIA's hosted API, or serve's POST /v1/chat/completions): each conversation of a task as `messages`, its
 * reward read from "reward:<x>". A conversation the server refuses (400) makes the row an error row with its reason.
 */
function nimScorer(http: ReturnType<typeof client>, model: string, scoring: ScoringPlan, fields: ConversationFields, layout: (kind: TaskKind) => Layout) {
    if (scoring.contextSize !== defaultContextSize) throw new UsageError("--context-size: a NIM scores up to its own context; use --server-api native (nemoreward serve), or leave it out");
    if (scoring.onOverlong !== "error") throw new UsageError(`--on-overlong ${scoring.onOverlong} needs the token counts only \`nemoreward serve\`'s own protocol gives: use --server-api native, or leave it out`);
    const reward = async (conversation: Conversation): Promise<{ reward: number; tokens: number }> => {
        const { status, json } = await http.post("/v1/chat/completions", JSON.stringify({ model, messages: conversation }));
        if (status === 400) throw new RowError(json?.error?.message ?? json?.detail ?? "the server refused the conversation");
        const content = json?.choices?.[0]?.message?.content;
        const match = typeof content === "string" ? /^reward:\s*(-?[\d.]+(?:[eE][+-]?\d+)?)\s*$/.exec(content.split(",")[0]!) : null;
        if (match === null) throw new ModelError(`the server's answer holds no reward ("reward:<x>"): ${JSON.stringify(content)?.slice(0, 100)}`);
        return { reward: Number(match[1]), tokens: json?.usage?.prompt_tokens ?? 0 };
    };
    return {
        score: (row: InputRow): Promise<Scored> => scoreRow(row, fields, layout, async (task) => {
            // identical responses asked once, so that they tie exactly (as the local scorer does)
            const asked = new Map<string, Promise<{ reward: number; tokens: number }>>();
            const answers = await Promise.all(task.conversations.map((conversation) => {
                const key = JSON.stringify(conversation);
                if (!asked.has(key)) asked.set(key, reward(conversation));
                return asked.get(key)!;
            }));
            return { fields: rewardFields(task, answers.map((a) => a.reward), scoring.field) as Fields, tokens: answers.reduce((n, a) => n + a.tokens, 0) };
        }),
        summary: () => "",
    };
}

/** The row's task, read as the server reads it, for the transforms; none when it cannot be read (the server said why). */
function taskOf(row: InputRow, fields: ConversationFields): ScoringTask | undefined {
    try {
        return toScoringTask(row.record!, fields);
    } catch {
        return undefined;
    }
}
