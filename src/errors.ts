/** Exit statuses are a contract with the shell scripts that call nemoreward. */
export const exitCodes = {
    ok: 0,
    failure: 1,
    usage: 2,
    someRowsFailed: 3,
    interrupted: 130,
    /** The reader closed the output (`| head`) before every row was written; as a shell reports SIGPIPE. */
    outputClosed: 141,
} as const;

/** An error that ends the run; `exitCode` is what the process exits with. */
export class NemoError extends Error {
    constructor(message: string, readonly exitCode: number, options?: ErrorOptions) {
        super(message, options);
        this.name = new.target.name;
    }
}

/** The command line asked for something impossible: a missing file, a bad option value. */
export class UsageError extends NemoError {
    constructor(message: string, options?: ErrorOptions) {
        super(message, exitCodes.usage, options);
    }
}

/** The model or the engine failed: nothing more can be scored. */
export class ModelError extends NemoError {
    constructor(message: string, options?: ErrorOptions) {
        super(message, exitCodes.failure, options);
    }
}

/** One row cannot be scored; the run goes on and the row is written with `"reward": null`. */
export class RowError extends Error {
    override name = "RowError";
}

/** A row deliberately left unscored (`--on-overlong skip`): written with an empty reward, not counted as an error. */
export class SkippedRow extends RowError {
    override name = "SkippedRow";
}
