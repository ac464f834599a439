/**
 * Exit statuses are a contract with the shell scripts and schedulers that call nemoreward. Worth retrying: 1 (the
 * model or a write failed), 75 (another run holds an output), 130 and 143 (interrupted: a resumed run continues).
 * Not: 2 (the command or its input is wrong, and will be again), 3 (finished, some rows are error rows: done).
 */
export const exitCodes = {
    ok: 0,
    failure: 1,
    usage: 2,
    someRowsFailed: 3,
    /** Another run is writing an output (its lock is held): the same command later will do (EX_TEMPFAIL). */
    busy: 75,
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
