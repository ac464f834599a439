import { Command, InvalidArgumentError, Option } from "commander";
import type { CliIo } from "../../io.js";
import { addFlags, integer } from "../../plan/flags.js";
import type { ServeFlags } from "../../serve/serve.js";

function seconds(value: string): number {
    const n = Number(value);
    if (value.trim() === "" || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError("expected a number of seconds above 0.");
    return n;
}

export function serveCommand(io: CliIo, setExit: (code: number) => void): Command {
    const command = new Command("serve")
        .summary("load the model once and serve rewards over HTTP")
        .description(
            "Serves the rewards `score` gives, over HTTP: POST /v1/score (records in any shape score reads -> the fields score adds), " +
            "POST /get_reward (OpenRLHF's remote reward model), POST /v1/chat/completions and GET /v1/models (NVIDIA NIM's reward API), " +
            "GET /health and GET /metrics (Prometheus). Requests from every client share one queue and the engine's parallel sequences.",
        )
        .option("--host <address>", "address to listen on; any but this machine's loopback needs --api-key or --insecure-no-auth", "127.0.0.1")
        .option("--port <n>", "port to listen on (0: any free port; the address is printed on stderr)", integer(0), 8000)
        .addOption(new Option("--api-key <key>", "ask every request (but GET /health) for Authorization: Bearer KEY (default: $NEMOREWARD_API_KEY)"))
        .option("--insecure-no-auth", "serve anyone who can reach --host, with no key")
        .option("--max-body-mb <n>", "the largest request body (413 past it)", integer(1), 64)
        .option("--max-rows <n>", "the most rows in one request (413 past it)", integer(1), 4096)
        .option("--max-queue <n>", "the most rows waiting for the engine over all requests (429 with Retry-After past it)", integer(1), 65536)
        .option("--request-timeout <seconds>", "a request not answered by then gets 408 (its body still coming) or 503 (its rows dropped)", seconds, 600);
    return addFlags(command, "serve")
        .addHelpText("after", `
Examples:
  nemoreward serve -m model.gguf                                  http://127.0.0.1:8000
  nemoreward serve -m model.gguf --host 0.0.0.0 --api-key "$KEY" --gpu cuda --parallel 16
  curl -s localhost:8000/v1/score -H 'content-type: application/json' \\
       -d '{"records": [{"prompt": "What is 1+1?", "response": "2"}]}'
  nemoreward score data.jsonl --server http://127.0.0.1:8000 -o scored.jsonl

Exit status: 0 stopped by a signal after answering the requests in flight, 1 the model failed to load,
2 usage error (an address other machines reach without a key), 130 stopped at once by a second signal.`)
        .action(async (flags: ServeFlags) => {
            const { runServe } = await import("../../serve/serve.js");
            setExit(await runServe(flags, io));
        });
}
