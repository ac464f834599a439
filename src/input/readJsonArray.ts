import { StringDecoder } from "node:string_decoder";
import { notUtf8, parseRecord, type InputRow } from "./inputRow.js";
import { defaultMaxLineBytes } from "./readJsonl.js";

/**
 * Streams the items of a JSON array (`[{...}, {...}]`) one at a time, so a large file never sits in memory whole.
 * It only finds where each top-level item starts and ends (strings and nesting tracked); JSON.parse does the rest.
 */
export async function* readJsonArray(stream: AsyncIterable<Buffer>, source: string, maxItemChars = defaultMaxLineBytes): AsyncIterable<InputRow> {
    const decoder = new StringDecoder("utf8");
    // StringDecoder turns invalid bytes into U+FFFD; a strict decoder beside it tells which chunks held any, and an
    // item read from such a chunk that holds U+FFFD is reported rather than scored
    let strict = new TextDecoder("utf-8", { fatal: true });
    let chunkInvalid = false, itemSuspect = false;
    let state: "before" | "between" | "item" | "after" = "before";
    let item = "", depth = 0, inString = false, escaped = false;
    let line = 1, itemLine = 1;
    let tooLong = false;
    const finish = (): InputRow => {
        const text = item.trim();
        const row: InputRow = tooLong
            ? { source, line: itemLine, format: "json", text: "", parseError: `the item is over the ${maxItemChars}-character limit` }
            : itemSuspect && text.includes("\uFFFD") ? { source, line: itemLine, format: "json", text, parseError: notUtf8 }
            : { source, line: itemLine, format: "json", text, ...parseRecord(text) };
        item = "";
        tooLong = false;
        itemSuspect = false;
        state = "between";
        return row;
    };
    for await (const chunk of stream) {
        const text = decoder.write(chunk);
        try {
            strict.decode(chunk, { stream: true });
            chunkInvalid = false;
        } catch {
            chunkInvalid = true;
            strict = new TextDecoder("utf-8", { fatal: true });
        }
        for (let i = 0; i < text.length; i++) {
            const c = text[i]!;
            if (chunkInvalid && state === "item") itemSuspect = true;
            if (state === "item") {
                if (inString) {
                    if (escaped) escaped = false;
                    else if (c === "\\") escaped = true;
                    else if (c === '"') inString = false;
                } else if (c === '"') inString = true;
                else if (c === "{" || c === "[") depth++;
                else if (c === "}" || c === "]") {
                    if (depth === 0) {
                        // the array's own closing bracket
                        yield finish();
                        state = "after";
                        continue;
                    }
                    depth--;
                } else if (c === "," && depth === 0) {
                    yield finish();
                    continue;
                }
                if (item.length < maxItemChars) item += c;
                else tooLong = true;
            } else if (c === "\n" || c === " " || c === "\t" || c === "\r" || c === "\uFEFF") {
                // whitespace between tokens
            } else if (state === "before" && c === "[") {
                state = "between";
            } else if (state === "between" && c === "]") {
                state = "after";
            } else if (state === "between") {
                state = "item";
                itemSuspect = chunkInvalid;
                itemLine = line;
                item = c;
                inString = c === '"';
                depth = c === "{" || c === "[" ? 1 : 0;
            } else {
                // Past a structural error nothing more can be read reliably: say where, and stop this source.
                const reason = state === "before" ? "a .json file must hold an array of records" : "text after the closing ]";
                yield { source, line, format: "json", text: "", parseError: reason };
                return;
            }
            if (c === "\n") line++;
        }
    }
    if (state === "item") yield { source, line: itemLine, format: "json", text: item.trim(), parseError: "the JSON array is cut off here" };
    else if (state !== "after") yield { source, line, format: "json", text: "", parseError: "the JSON array is not closed" };
}
