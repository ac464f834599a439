import type { CliIo } from "../../io.js";
import type { Flags } from "../../plan/flags.js";
import type { CommandName } from "../../plan/plan.js";

/**
 * The action of a command that reads conversations: the flags become a plan (every rule checked, nothing opened),
 * and the plan runs. Both are loaded only now, so that `--help` and `--version` start at once.
 */
export function runConversations(command: CommandName, io: CliIo, setExit: (code: number) => void) {
    return async (inputs: string[], flags: Flags): Promise<void> => {
        const { plan } = await import("../../plan/plan.js");
        const planned = await plan(command, inputs, flags, { stdinIsTTY: io.stdinIsTTY, stdoutIsTTY: io.stdout.isTTY === true, env: io.env ?? process.env });
        const { run } = await import("../../run/run.js");
        setExit(await run(planned, io, flags.chatTemplate));
    };
}
