/**
 * A worker process of `--workers N` / `--gpus`: loads the model (its own copy, on the device CUDA_VISIBLE_DEVICES
 * names) and answers reward requests from the run that started it, over the IPC channel. It never acts on signals:
 * the run takes them (the first Ctrl-C finishes the rows in flight, which need their workers), and a worker ends when
 * the run closes the channel, or goes.
 */
import { createLog } from "../log.js";
import type { EngineOptions } from "./rewardEngine.js";
import type { Token } from "node-llama-cpp";

/** What the run sends a worker. */
export type ToWorker = { type: "load"; options: EngineOptions } | { type: "reward"; id: number; tokens: Uint32Array };
/** What a worker answers. */
export type FromWorker =
    | { type: "ready"; description: string; parallel: number }
    | { type: "failed"; message: string }
    | { type: "reward"; id: number; reward: number }
    | { type: "error"; id: number; message: string };

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => undefined);

// the run gone (ended, killed) or done with this worker: it ends too, whatever it is doing (loading included)
let engine: { dispose(): Promise<void> } | undefined;
process.on("disconnect", () => {
    void (engine?.dispose() ?? Promise.resolve()).finally(() => process.exit(0));
});
if (!process.connected) process.exit(0);

const send = (message: FromWorker) => {
    if (process.connected) process.send!(message);
};
const log = createLog(process.stderr, { quiet: true, verbose: process.env["NEMOREWARD_VERBOSE"] === "1" });
const { RewardEngine } = await import("./rewardEngine.js");
if (!process.connected) process.exit(0);
let loaded: Awaited<ReturnType<typeof RewardEngine.load>> | undefined;
process.on("message", (message: ToWorker) => {
    if (message.type === "load") {
        RewardEngine.load(message.options, log).then((model) => {
            engine = loaded = model;
            if (!process.connected) process.exit(0);
            send({ type: "ready", description: model.description, parallel: model.parallel });
        }, (error: Error) => send({ type: "failed", message: error.message }));
        return;
    }
    loaded!.reward(Array.from(message.tokens) as Token[]).then(
        (reward) => send({ type: "reward", id: message.id, reward }),
        (error: Error) => send({ type: "error", id: message.id, message: error.message }),
    );
});
