import { Decimal, oneLine, type Fields, type Value } from "./values.js";

/** Parses one JSON record (an object) with every number exact (values.ts); anything else is the row's problem. */
export function parseRecord(text: string): { record: Fields; repeated?: string[]; problem?: undefined } | { record?: undefined; problem: string } {
    let value: unknown;
    try {
        value = JSON.parse(text);
    } catch (error) {
        return { problem: `not valid JSON (${(error as Error).message})` };
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) return { problem: "not a JSON object" };
    const record = mayHoldInexactNumbers(text) ? parseExact(text) as Fields : value as Fields;
    if (topLevelKeyCount(text) === Object.keys(record).length) return { record };
    const keys = fieldSpans(text).map(({ key }) => key);
    return { record, repeated: [...new Set(keys.filter((key, i) => keys.indexOf(key) !== i))] };
}

/**
 * How many keys a JSON object's text gives at its top level, a key given twice counted twice: more than the parsed
 * object has means a key is repeated. Strings are skipped a quote at a time, so that it costs little beside the parse.
 */
function topLevelKeyCount(text: string): number {
    let depth = 0, keys = 0, key = false;
    for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i);
        if (c === 0x22) {
            if (key) keys++;
            key = false;
            // to the closing quote: one not preceded by an odd run of backslashes
            for (;;) {
                i = text.indexOf('"', i + 1);
                let slash = i - 1;
                while (text.charCodeAt(slash) === 0x5c) slash--;
                if ((i - 1 - slash) % 2 === 0) break;
            }
        } else if (c === 0x7b || c === 0x5b) {
            depth++;
            key = depth === 1 && c === 0x7b;
        } else if (c === 0x7d || c === 0x5d) depth--;
        else if (c === 0x2c && depth === 1) key = true;
    }
    return keys;
}

/** How many keys a JSON value's text gives at every depth, a key given twice counted twice. */
export function keyCount(text: string): number {
    let keys = 0;
    for (let i = text.indexOf('"'); i !== -1; i = text.indexOf('"', i + 1)) {
        // to the closing quote: one not preceded by an odd run of backslashes
        for (;;) {
            i = text.indexOf('"', i + 1);
            let slash = i - 1;
            while (text.charCodeAt(slash) === 0x5c) slash--;
            if ((i - 1 - slash) % 2 === 0) break;
        }
        let next = i + 1;
        while (space.has(text.charCodeAt(next))) next++;
        if (text[next] === ":") keys++;
    }
    return keys;
}

/**
 * Whether the text may hold a number that a double does not hold exactly. A number of at most 15 significant digits
 * and a two-digit exponent always round-trips through a double, so only longer ones (or digits in strings that look
 * like them) need the exact parse.
 */
function mayHoldInexactNumbers(text: string): boolean {
    return /(?:\d\.?){16}|[eE][+-]?\d{3}/.test(text);
}

const space = new Set([0x20, 0x09, 0x0a, 0x0d]);
const numberToken = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/**
 * JSON.parse with exact numbers: each number is a double when the double is exactly the number written, else a
 * bigint (an integer) or a Decimal. Iterative, so that a record nested any deep costs no stack. The text must be
 * valid JSON (it was parsed before).
 */
export function parseExact(text: string): Value {
    let at = 0;
    const skipSpace = () => {
        while (space.has(text.charCodeAt(at))) at++;
    };
    const string = (): string => {
        const start = at;
        for (at++; text[at] !== '"'; at++) if (text[at] === "\\") at++;
        at++;
        return JSON.parse(text.slice(start, at)) as string;
    };
    const key = (): string => {
        skipSpace();
        const name = string();
        skipSpace();
        at++; // the colon
        return name;
    };
    type Open = { list: Value[]; fields?: undefined; name?: undefined } | { list?: undefined; fields: Fields; name: string };
    const open: Open[] = [];
    for (;;) {
        skipSpace();
        let value: Value;
        const c = text[at];
        if (c === "{" || c === "[") {
            at++;
            skipSpace();
            if (text[at] === (c === "{" ? "}" : "]")) {
                at++;
                value = c === "{" ? {} : [];
            } else {
                open.push(c === "{" ? { fields: {}, name: key() } : { list: [] });
                continue;
            }
        } else if (c === '"') {
            value = string();
        } else if (c === "t" || c === "f" || c === "n") {
            value = c === "t" ? true : c === "f" ? false : null;
            at += c === "f" ? 5 : 4;
        } else {
            numberToken.lastIndex = at;
            const token = numberToken.exec(text)![0];
            at += token.length;
            value = exactNumber(token);
        }
        // put the value in the list or object it belongs to, closing every one that ends after it
        for (;;) {
            const top = open.at(-1);
            if (top === undefined) return value;
            if (top.list !== undefined) top.list.push(value);
            else setField(top.fields, top.name, value);
            skipSpace();
            if (text[at++] === ",") {
                if (top.fields !== undefined) top.name = key();
                break;
            }
            open.pop();
            value = top.list ?? top.fields;
        }
    }
}

/** As JSON.parse does: a key given twice keeps its first place and its last value; `__proto__` is a plain field. */
function setField(fields: Fields, name: string, value: Value): void {
    if (name === "__proto__") Object.defineProperty(fields, name, { value, writable: true, enumerable: true, configurable: true });
    else fields[name] = value;
}

/** A JSON number token as the exact value it writes: a double when that is exact, else a bigint or a Decimal. */
export function exactNumber(token: string): number | bigint | Decimal {
    const double = Number(token);
    const written = decimalOf(token);
    if (Number.isFinite(double) && sameValue(written, decimalOf(String(double)))) return double;
    if (written.scale <= 0 && written.scale > -20) {
        const integer = written.unscaled * 10n ** BigInt(-written.scale);
        if (BigInt.asIntN(64, integer) === integer) return integer;
    }
    return new Decimal(written.unscaled, written.scale);
}

/** A number's text as unscaled digits and a scale, trailing zeros dropped: 1.50e2 → 15 × 10^1 (scale -1). */
function decimalOf(text: string): { unscaled: bigint; scale: number } {
    const [, sign, whole, fraction = "", exponent = "0"] = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(text)!;
    let digits = `${whole}${fraction}`.replace(/^0+(?=\d)/, "");
    let scale = fraction.length - Number(exponent);
    const zeros = /0*$/.exec(digits)![0].length;
    if (zeros === digits.length) return { unscaled: 0n, scale: 0 };
    digits = digits.slice(0, digits.length - zeros);
    scale -= zeros;
    return { unscaled: BigInt(`${sign}${digits}`), scale };
}

function sameValue(a: { unscaled: bigint; scale: number }, b: { unscaled: bigint; scale: number }): boolean {
    return a.unscaled === b.unscaled && a.scale === b.scale;
}

/**
 * Where the value of each top-level key of a JSON object's text starts and ends. A scan, not a parse, so that
 * a record nested any deep costs no stack; the text must be a valid JSON object (it was parsed before).
 */
export function fieldSpans(text: string): { key: string; start: number; end: number }[] {
    const values: { key: string; start: number; end: number }[] = [];
    let depth = 0, inString = false, escaped = false, inValue = false;
    let key = "", keyStart = 0, start = -1, end = -1;
    for (let i = 0; i < text.length; i++) {
        const c = text[i]!;
        if (inString) {
            if (escaped) escaped = false;
            else if (c === "\\") escaped = true;
            else if (c === '"') {
                inString = false;
                if (!inValue) key = JSON.parse(text.slice(keyStart, i + 1)) as string;
            }
            if (inValue) end = i + 1;
            continue;
        }
        if (c === " " || c === "\t" || c === "\n" || c === "\r") continue;
        if (depth === 1 && (c === "," || c === "}")) {
            if (inValue) values.push({ key, start, end });
            inValue = false;
            if (c === "}") depth = 0;
            continue;
        }
        if (depth === 1 && c === ":") {
            inValue = true;
            start = -1;
            continue;
        }
        if (inValue && start === -1) start = i;
        if (c === '"') {
            inString = true;
            keyStart = i;
        } else if (c === "{" || c === "[") depth++;
        else if (c === "}" || c === "]") depth--;
        if (inValue) end = i + 1;
    }
    return values;
}

/**
 * A JSON object's text on one line with `fields` set (each value given as its JSON text): a key the object has gets
 * the value in place (from the last key back, so that the spans before it stay where they were), the others are
 * appended before the closing brace; every other byte stays. `has`: whether the object has any of the keys (else
 * nothing is searched).
 */
export function spliceJson(text: string, fields: Readonly<Record<string, string>>, has: boolean): string {
    let line = oneLine(text.trimEnd());
    const added = { ...fields };
    if (has) {
        for (const { key, start, end } of fieldSpans(line).reverse()) {
            if (!Object.hasOwn(fields, key)) continue;
            line = `${line.slice(0, start)}${fields[key]}${line.slice(end)}`;
            delete added[key];
        }
    }
    const body = line.slice(0, -1).trimEnd();
    const rest = Object.entries(added).map(([key, value]) => `${JSON.stringify(key)}:${value}`).join(",");
    return `${body}${body.endsWith("{") || rest === "" ? "" : ","}${rest}}`;
}
