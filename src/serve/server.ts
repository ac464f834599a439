import { createHash, timingSafeEqual } from "node:crypto";
import Fastify, { type FastifyReply, type FastifyRequest } from "fastify";
import type { ConversationFields } from "../conversation/toConversation.js";
import { asErrorRow } from "../encode/encoder.js";
import { objectText } from "../encode/json.js";
import type { RewardModel } from "../engine/workerPool.js";
import { layoutOf, type ScoringPlan } from "../plan/plan.js";
import type { InputRow } from "../records/row.js";
import { collidingField, ownPrefix } from "../records/toolFields.js";
import { isValueProblem, type Fields } from "../records/values.js";
import { kindOf, taskScorer, type Scored } from "../run/scoreTask.js";
import type { ChatTemplate } from "../template/chatTemplate.js";
import { Metrics } from "./metrics.js";
import { apiWords } from "./apiWords.js";
import { queryConversation, UnreadableQuery } from "./openrlhf.js";
import { RowQueue } from "./rowQueue.js";

/** The model, once loaded: what every endpoint scores with. */
export type Loaded = {
    model: RewardModel; template: ChatTemplate; name: string; identity: string;
    /** The engine settings a reward depends on: a client's must match (score --server), and its .resume records say them. */
    engine: { precise: boolean; flashAttention: boolean; rewardToken: number };
};

export type ServerSettings = {
    contextSize: number;
    /** Bytes of a request's body (413 past it). */
    bodyLimit: number;
    /** Rows in one request (413 past it). */
    maxRows: number;
    /** Rows waiting for the engine, over every request (429 past it). */
    queueLimit: number;
    /** Milliseconds from a request's first byte to its answer: 408 while its body is still coming, else 503. */
    requestTimeoutMs: number;
    /** Bearer token every route but /health asks for. */
    apiKey?: string;
};

/** What a row's fields are, as `score`'s flags say it (--field, --on-overlong, --content-special, the field names). */
export type RowOptions = Pick<ScoringPlan, "field" | "onOverlong" | "contentSpecial"> & { fields: ConversationFields; contextSize?: number };

const defaultRowOptions: RowOptions = { field: "reward", onOverlong: "error", contentSpecial: "special", fields: { prompt: "prompt", response: "response", system: "system" } };

/** A request refused with an HTTP status and a reason (and how soon to try again). */
class Refusal extends Error {
    constructor(readonly status: number, message: string, readonly retryAfter?: number, readonly param?: string) {
        super(message);
    }
}

const fieldName = { type: "string", minLength: 1 } as const;
const scoreBody = {
    type: "object",
    required: ["records"],
    properties: {
        records: { type: "array", items: { type: "object" } },
        field: fieldName,
        context_size: { type: "integer", minimum: 1 },
        on_overlong: { enum: ["error", "skip", "truncate"] },
        content_special: { enum: ["special", "text"] },
        messages_field: fieldName, prompt_field: fieldName, response_field: fieldName, system_field: fieldName,
        // "cli": row messages in `score`'s words (--prompt-field ...), as score --server writes them; else the body's
        error_words: { enum: ["api", "cli"] },
    },
} as const;
const rewardBody = {
    type: "object",
    required: ["query"],
    properties: { query: { type: "array", items: { type: "string" } }, prompts: { type: "array", items: { type: "string" } }, labels: { type: "array" } },
} as const;
const chatBody = {
    type: "object",
    required: ["messages"],
    properties: {
        model: { type: "string" },
        // the messages are read by `score`'s own reader (roles, content parts, tool turns), which says what it refuses
        messages: { type: "array", minItems: 1 },
    },
} as const;

type ScoreBody = { records: Fields[]; field?: string; context_size?: number; on_overlong?: RowOptions["onOverlong"]; content_special?: RowOptions["contentSpecial"];
    messages_field?: string; prompt_field?: string; response_field?: string; system_field?: string; error_words?: "api" | "cli" };
type RewardBody = { query: string[]; prompts?: string[]; labels?: unknown[] };
type ChatBody = { model?: string; messages: unknown[]; stream?: unknown; n?: unknown };

/**
 * The HTTP server of `nemoreward serve`: fastify, a JSON schema per body, and one queue in front of one model. Every
 * endpoint turns its rows into records and scores them with `score`'s own task scorer, so that a reward is the one
 * `score` writes for the same row, bit for bit. It listens before the model has loaded (GET /health says so); `ready`
 * hands it the model.
 */
export function createServer(settings: ServerSettings) {
    const app = Fastify({
        bodyLimit: settings.bodyLimit,
        return503OnClosing: true,
        forceCloseConnections: "idle",
        // a record with a "__proto__" or "constructor" key is data, as score reads it: JSON.parse makes it an own
        // field, and nothing here assigns a record's keys onto an object
        onProtoPoisoning: "ignore",
        onConstructorPoisoning: "ignore",
        // the schemas check; they never change a value (fastify's default coerces types and drops fields)
        ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false } },
    });
    const metrics = new Metrics();
    let loaded: Loaded | undefined, queue: RowQueue | undefined, closing = false, requestCount = 0;
    const scorers = new Map<string, ReturnType<typeof taskScorer>>();
    // requests whose body is still arriving (not yet handled): on stop, answered at once (they hold no rows yet)
    const receiving = new Set<FastifyReply>();
    const ends = new WeakMap<FastifyRequest, { stop: AbortController; started: boolean; timer: NodeJS.Timeout }>();

    const keyHash = settings.apiKey === undefined ? undefined : createHash("sha256").update(settings.apiKey).digest();
    const authorized = (header: string | undefined) => {
        if (keyHash === undefined) return true;
        const given = /^Bearer (.+)$/i.exec(header ?? "")?.[1] ?? "";
        // digests of equal length, compared in constant time: the time taken says nothing of the key
        return timingSafeEqual(createHash("sha256").update(given).digest(), keyHash);
    };

    app.addHook("onRequest", async (request, reply) => {
        const stop = new AbortController();
        const end = { stop, started: false, timer: setTimeout(() => timedOut(request, reply), settings.requestTimeoutMs) };
        ends.set(request, end);
        receiving.add(reply);
        // a client gone before its answer: its rows still waiting leave the queue
        reply.raw.on("close", () => {
            receiving.delete(reply);
            clearTimeout(end.timer);
            if (!reply.raw.writableFinished) stop.abort();
        });
        if (request.url !== "/health" && !authorized(request.headers.authorization)) {
            void reply.code(401).header("www-authenticate", "Bearer").send(errorBody(401, "a wrong or missing API key: send Authorization: Bearer KEY"));
            return reply;
        }
    });
    app.addHook("preHandler", async (request, reply) => {
        ends.get(request)!.started = true;
        receiving.delete(reply);
    });
    app.addHook("onResponse", async (request, reply) => {
        clearTimeout(ends.get(request)?.timer);
        metrics.request(request.routeOptions.url ?? "unknown", reply.statusCode, reply.elapsedTime / 1000);
    });
    const timedOut = (request: FastifyRequest, reply: FastifyReply) => {
        const end = ends.get(request)!;
        end.stop.abort();
        if (reply.sent) return;
        const seconds = settings.requestTimeoutMs / 1000;
        const [status, message] = end.started
            ? [503, `the request was not answered within ${seconds} s (--request-timeout): its rows still waiting were dropped`]
            : [408, `the request's body did not arrive within ${seconds} s (--request-timeout)`];
        hangUp(reply, status, message, status === 503 ? 1 : undefined);
    };
    /** Answers now and closes the connection once the answer is out: a body still coming is not read further. */
    const hangUp = (reply: FastifyReply, status: number, message: string, retryAfter?: number) => {
        receiving.delete(reply);
        if (reply.sent) return;
        if (retryAfter !== undefined) void reply.header("retry-after", String(retryAfter));
        void reply.code(status).header("connection", "close").send(errorBody(status, message));
        reply.raw.once("finish", () => reply.request.raw.socket?.destroy());
    };

    app.setErrorHandler(async (error: Error & { statusCode?: number; code?: string }, _request, reply) => {
        if (error instanceof Refusal) {
            if (error.retryAfter !== undefined) void reply.header("retry-after", String(error.retryAfter));
            return reply.code(error.status).send(errorBody(error.status, error.message, error.param));
        }
        const status = error.statusCode !== undefined && error.statusCode >= 400 ? error.statusCode : 500;
        const message = error.code === "FST_ERR_CTP_BODY_TOO_LARGE" ? `the request body is over the ${settings.bodyLimit}-byte limit (--max-body-mb)`
            : error.code === "FST_ERR_VALIDATION" ? `the request body does not fit: ${error.message}` : error.message;
        return reply.code(status).send(errorBody(status, message));
    });
    app.setNotFoundHandler(async (request, reply) => reply.code(404).send(errorBody(404, `no route ${request.method} ${request.url}`)));

    /** The loaded model, and the queue's room for these rows: else the request is refused. */
    const admit = (rows: number) => {
        // stopping (closing): fastify answers requests that arrive now with 503; those in flight are answered
        if (loaded === undefined || queue === undefined) throw new Refusal(503, "the model is loading", 5);
        if (rows > settings.maxRows) throw new Refusal(413, `${rows} rows in one request; the limit is ${settings.maxRows} (--max-rows)`);
        if (!queue.admits(rows)) throw new Refusal(429, `the queue is full (${queue.depth} rows waiting, --max-queue ${queue.limit}): try again shortly`, 1);
        return { loaded, queue };
    };

    const scorerFor = (options: RowOptions) => {
        const key = JSON.stringify(options);
        let scorer = scorers.get(key);
        if (scorer === undefined) {
            // a smaller context than the server's (score --server --context-size N) is a stricter limit on the same engine
            const scoring: ScoringPlan = { mode: "rewards", ...options, contextSize: options.contextSize ?? settings.contextSize };
            scorer = taskScorer(scoring, options.fields, layoutOf(scoring, false), loaded!.model, loaded!.template);
            if (scorers.size < 64) scorers.set(key, scorer);
        }
        return scorer;
    };

    /** Records through the queue and `score`'s task scorer: each row's fields, as `score` adds them, in order. */
    const scoreRecords = async (request: FastifyRequest, records: Fields[], options: RowOptions): Promise<Scored[]> => {
        const { queue } = admit(records.length);
        const scorer = scorerFor(options);
        const { stop } = ends.get(request)!;
        const rows = queue.runAll(records.map((record, i) => async () => {
            const done = await scorer.score(rowOf(record, i));
            metrics.row(done.tokens, done.error !== undefined);
            return done;
        }), stop.signal);
        for (const row of rows) row.catch(() => undefined); // awaited together below
        try {
            return await Promise.all(rows);
        } catch (error) {
            stop.abort(); // the rows of this request still waiting will not be answered
            throw error;
        }
    };

    /** Sends the answer unless the request has been answered already (its time ran out). */
    const answer = (reply: FastifyReply, body: string | object, type = "application/json; charset=utf-8") =>
        reply.sent ? reply : reply.type(type).send(typeof body === "string" ? body : JSON.stringify(body));

    app.post("/v1/score", { schema: { body: scoreBody } }, async (request, reply) => {
        const body = request.body as ScoreBody;
        const options: RowOptions = {
            field: body.field ?? defaultRowOptions.field,
            onOverlong: body.on_overlong ?? defaultRowOptions.onOverlong,
            contentSpecial: body.content_special ?? defaultRowOptions.contentSpecial,
            ...(body.context_size !== undefined ? { contextSize: body.context_size } : {}),
            fields: {
                ...(body.messages_field !== undefined ? { messages: body.messages_field } : {}),
                prompt: body.prompt_field ?? "prompt", response: body.response_field ?? "response", system: body.system_field ?? "system",
            },
        };
        if (body.context_size !== undefined && body.context_size > settings.contextSize)
            throw new Refusal(400, `body/context_size: ${body.context_size} tokens is over the server's ${settings.contextSize}-token context (serve --context-size)`, undefined, "context_size");
        if (collidingField(options.field) !== undefined || options.field.startsWith(ownPrefix) || options.field === "__proto__")
            throw new Refusal(400, `body/field: "${options.field}" would be named like one of nemoreward's own fields; choose another name`, undefined, "field");
        const done = await scoreRecords(request, body.records, options);
        const layout = layoutOf({ mode: "rewards", ...options }, false);
        const words = body.error_words === "cli" ? (fields: Fields) => fields : (fields: Fields) =>
            Object.fromEntries(Object.entries(fields).map(([name, value]) => [name, (name === "error" || name === "skipped") && typeof value === "string" ? apiWords(value) : value])) as Fields;
        const results = done.map(({ out }) => {
            try {
                return objectText(words(out.fields));
            } catch (error) {
                // as score's JSON encoder does: a value JSON cannot hold makes the row an error row saying why
                if (!isValueProblem(error)) throw error;
                metrics.rowErrors++;
                return objectText(asErrorRow(out, layout(kindOf(out.input)), error.message).fields);
            }
        });
        return answer(reply, `{"results":[${results.join(",")}],"n_tokens":[${done.map((d) => d.tokens).join(",")}]}`);
    });

    app.post("/get_reward", { schema: { body: rewardBody } }, async (request, reply) => {
        const { query, prompts } = request.body as RewardBody;
        if (prompts !== undefined && prompts.length !== query.length)
            throw new Refusal(400, `body/prompts: ${prompts.length} prompts for ${query.length} queries`, undefined, "prompts");
        const records = query.map((text, i) => {
            try {
                return { messages: queryConversation(text, prompts?.[i]) };
            } catch (error) {
                // a query is the client's text: whatever reading it fails on is the client's to fix (400), never a 500
                throw new Refusal(400, `body/query/${i}: ${error instanceof UnreadableQuery ? error.message : `cannot be read (${(error as Error).message})`}`, undefined, "query");
            }
        });
        const done = await scoreRecords(request, records, defaultRowOptions);
        const failed = done.findIndex((d) => d.error !== undefined || d.skipped !== undefined);
        if (failed !== -1) throw new Refusal(400, `body/query/${failed}: ${apiWords(done[failed]!.error ?? done[failed]!.skipped!)}`, undefined, "query");
        const rewards = done.map((d) => d.out.fields["reward"] as number);
        return answer(reply, { rewards, scores: rewards });
    });

    app.post("/v1/chat/completions", { schema: { body: chatBody } }, async (request, reply) => {
        const { messages, model, stream, n } = request.body as ChatBody;
        // a reward is one number: no stream of chunks, one choice (a client asking for more would silently get less)
        if (stream !== undefined && stream !== false) throw new Refusal(400, "body/stream: streaming is not supported (a reward is one answer): leave stream out or false", undefined, "stream");
        if (n !== undefined && n !== 1) throw new Refusal(400, "body/n: one choice only (a conversation has one reward): leave n out or 1", undefined, "n");
        const [done] = await scoreRecords(request, [{ messages: messages as Fields[] } as Fields], defaultRowOptions);
        if (done!.error !== undefined) throw new Refusal(400, apiWords(done!.error), undefined, "messages");
        const reward = done!.out.fields["reward"] as number;
        return answer(reply, {
            id: `chatcmpl-nemoreward-${++requestCount}`,
            object: "chat.completion",
            created: Math.floor(Date.now() / 1000),
            model: model ?? loaded!.name,
            choices: [{
                index: 0,
                message: { role: "assistant", content: `reward:${reward}` },
                logprobs: { content: [{ token: "reward", logprob: reward, bytes: null, top_logprobs: [] }] },
                finish_reason: "length",
            }],
            usage: { prompt_tokens: done!.tokens, completion_tokens: 1, total_tokens: done!.tokens + 1 },
        });
    });

    app.get("/v1/models", async (_request, reply) => {
        admit(0);
        return answer(reply, {
            object: "list",
            data: [{
                id: loaded!.name, object: "model", created: 0, owned_by: "nemoreward",
                nemoreward: { api: "native", identity: loaded!.identity, context_size: settings.contextSize, parallel: loaded!.model.parallel, max_rows: settings.maxRows,
                    engine: { precise: loaded!.engine.precise, flash_attention: loaded!.engine.flashAttention, reward_token: loaded!.engine.rewardToken } },
            }],
        });
    });

    app.get("/health", async (_request, reply) => {
        const status = closing ? "stopping" : loaded === undefined ? "loading" : "ready";
        return answer(reply.code(status === "ready" ? 200 : 503), { status, ...(loaded !== undefined ? { model: loaded.name } : {}) });
    });

    app.get("/metrics", async (_request, reply) =>
        answer(reply, metrics.text({ queueDepth: queue?.depth ?? 0, rowsInEngine: queue?.active ?? 0, ready: loaded !== undefined && !closing }), "text/plain; version=0.0.4; charset=utf-8"));

    return {
        app,
        metrics,
        /** The model has loaded: the server scores from now on. */
        ready(model: Loaded): void {
            loaded = model;
            const parallel = model.model.parallel;
            // as many rows in flight as `score` keeps (run.ts): the sequences busy, the next rows tokenized meanwhile
            queue = new RowQueue(parallel === 1 ? 2 : 8 * parallel + 1, settings.queueLimit);
        },
        /** Stops taking requests, and resolves once those in flight are answered. */
        async close(): Promise<void> {
            closing = true;
            for (const reply of [...receiving]) hangUp(reply, 503, "the server is stopping: the request's body had not arrived; send it again", 1);
            await app.close();
        },
        /** Requests being answered. */
        get queue() {
            return queue;
        },
    };
}

/** A record sent over HTTP, as an input row of a JSON source (its line: its place in the request, from 1). */
function rowOf(record: Fields, index: number): InputRow {
    return { source: { name: "request", format: "json" }, line: index + 1, text: "", record };
}

/** An error answer, in the OpenAI shape (which its SDK reads): message, type, the field at fault, the status. */
function errorBody(status: number, message: string, param?: string): object {
    const type = status === 401 ? "authentication_error" : status === 429 ? "rate_limit_error" : status >= 500 ? "server_error" : "invalid_request_error";
    return { error: { message, type, param: param ?? null, code: status } };
}
