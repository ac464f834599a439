/** The options of `score` a row's message may name, and the body fields of POST /v1/score that say the same. */
const named = /--(context-size|content-special|on-overlong|field|prompt-field|response-field|messages-field|system-field)(?: ('(?:[^']|'\\'')*'|(?!--)[^\s)'][^\s)]*))?/g;

/**
 * A row's message as an HTTP client reads it: each `score` option it names as the request's body field
 * (`--prompt-field question` -> `"prompt_field": "question"`, `(--context-size)` -> `("context_size")`).
 * `score --server` asks for score's own words (its output is a local run's, byte for byte).
 */
export function apiWords(message: string): string {
    return message.replace(named, (_, flag: string, value: string | undefined) =>
        `"${flag.replace(/-/g, "_")}"${value === undefined ? "" : `: ${JSON.stringify(unquote(value))}`}`);
}

/** A word as the shell quoting of `score`'s hints wrote it, unquoted. */
function unquote(word: string): string {
    return word.startsWith("'") ? word.slice(1, -1).replace(/'\\''/g, "'") : word;
}
