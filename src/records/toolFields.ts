/**
 * The fields the tool adds to a row, and the one rule that names them beside the user's own fields. Every encoder
 * asks here; no other code decides what the tool's fields are called.
 */

export type FieldKind = "double" | "integer" | "boolean" | "string" | "doubles" | "integers" | "strings";

/**
 * A field the tool adds. `optional`: written in JSON only on rows that have it (special_tokens_in_content); CSV, TSV
 * and Parquet, whose rows share their columns, have a column for every field of the layout, optional or not.
 */
export type ToolField = { name: string; kind: FieldKind; optional?: boolean };

/** The fields a row gains, in order, `error` last but for `dropped`. */
export type Layout = readonly ToolField[];

/** Every field the tool writes whose name is its own (the reward fields are named by --field). */
const namedFields: Record<string, FieldKind> = {
    margin: "double", z: "double",
    rank: "integer", best: "integer", preferred: "integer", n_tokens: "integer", response_indexes: "integer",
    truncated: "boolean", special_tokens_in_content: "boolean",
    error: "string", skipped: "string", dropped: "string", rendered: "string", text: "string",
};

/** What the tool puts in front of its field's name when the row has a field of that name of its own. */
export const ownPrefix = "nemoreward_";

/** Fields by their own names: `rank`, `error`, ... (`n_tokens` and `rendered` of a task of several conversations are lists). */
export function named(name: string, list = false): ToolField {
    const kind = namedFields[name];
    if (kind === undefined) throw new Error(`no tool field ${name}`);
    return { name, kind: list ? `${kind}s` as FieldKind : kind, ...(name === "special_tokens_in_content" || name === "text" ? { optional: true } : {}) };
}

/**
 * The names the tool's fields would take for `--field NAME`, across every kind of task: a --field that makes one of
 * them collide with another (`--field error`, `--field margin`, `--field reward_1` beside pairs) is refused.
 */
export function collidingField(field: string): string | undefined {
    const rewardNames = [field, `${field}_chosen`, `${field}_rejected`, `${field}_1`, `${field}_2`, `${field}s`];
    // `line`: where a row of no record says which line it was
    return rewardNames.find((name) => Object.hasOwn(namedFields, name) || name === "line");
}

/** Where the tool's fields go in the output: each added field's name there, and the earlier run's fields replaced. */
export type OwnNames = {
    /** Each added field's name in the output: its own, or `nemoreward_NAME` when the row has a field NAME of its own. */
    rename: Map<string, string>;
    /**
     * The row's fields that an earlier run of the tool added (a scored file scored again): replaced in place, and
     * those this run gives no value become null, as they no longer describe the row.
     */
    ours: readonly string[];
};

/**
 * The own-name rule, for every format. A row whose fields are `names` reads as one a run of the tool wrote when it
 * has this run's reward field (`added[0]`, under its own name or `nemoreward_` ones) and every field from there to the
 * end is one of the tool's, each holding what the tool writes there (`fits`: a JSON value or a Parquet column of the
 * field's kind), among them every field the format always gets (`always`: `error` in CSV, TSV and Parquet), and
 * none given twice (`names` holds a repeated JSON key as often as the text gives it).
 * Those fields are the tool's: they get their new values in place. Any other field named like one of the tool's is
 * the user's and stays as it is; the tool's then goes in `nemoreward_NAME` (prefixed again while that is taken).
 */
export function ownNames(names: readonly string[], added: Layout, { fits = () => true, always = [] }:
    { fits?: (name: string, kind: FieldKind) => boolean; always?: readonly string[] } = {}): OwnNames {
    const kinds = new Map<string, FieldKind>([...Object.entries(namedFields), ...added.map((f) => [f.name, f.kind] as const)]);
    const bare = (name: string) => name.replace(/^(nemoreward_)+/, "");
    const reward = added[0]?.name;
    // the earlier run's part: from a field holding this run's reward field (under its name or a nemoreward_ one) to the end
    // a name given twice (a JSON key repeated) is the user's: which of its values would the tool's be?
    const once = (name: string) => names.indexOf(name) === names.lastIndexOf(name);
    const scored = (start: number) => {
        const tail = names.slice(start);
        return tail.every((name) => once(name) && kinds.has(bare(name)) && fits(name, kinds.get(bare(name))!)) && always.every((name) => tail.some((own) => bare(own) === name));
    };
    const start = reward === undefined ? -1 : names.findIndex((name, i) => bare(name) === reward && scored(i));
    const ours = start === -1 ? [] : names.slice(start);
    const rename = new Map<string, string>();
    for (const { name } of added) {
        // the most prefixed: a plain name beside it is the user's
        let own = ours.filter((other) => bare(other) === name).sort((a, b) => b.length - a.length)[0] ?? name;
        while (!ours.includes(own) && names.includes(own)) own = `${ownPrefix}${own}`;
        rename.set(name, own);
    }
    return { rename, ours };
}

/** `fields` under the names `own` gives them, with the fields of an earlier run that this row does not set made null. */
export function renameFields<T>(fields: Record<string, T>, own: OwnNames): Record<string, T | null> {
    const renamed: Record<string, T | null> = {};
    for (const [name, value] of Object.entries(fields)) renamed[own.rename.get(name) ?? name] = value;
    for (const name of own.ours) renamed[name] ??= null;
    return renamed;
}

/** Whether a JSON value holds what the tool writes in a field of this kind (null always does). */
export function valueFits(value: unknown, kind: FieldKind): boolean {
    if (value === null) return true;
    switch (kind) {
        case "double": return typeof value === "number";
        case "integer": return typeof value === "number" && Number.isInteger(value);
        case "boolean": return typeof value === "boolean";
        case "string": return typeof value === "string";
        default: return Array.isArray(value) && value.every((item) => valueFits(item, kind.slice(0, -1) as FieldKind));
    }
}

/**
 * `fits` for a record's own values: a JSON value by its type, a CSV/TSV cell (`text`) by the form of its text (a
 * number, a whole number, true or false, a JSON list); and where the reward field is, never a whole number: the tool
 * writes a logit there, a whole number is someone's label.
 */
export function recordFits(record: Readonly<Record<string, unknown>>, reward: string | undefined, text: boolean): (name: string, kind: FieldKind) => boolean {
    return (name, kind) => {
        const value = record[name] ?? null;
        const fits = text && typeof value === "string" ? textFits(value, kind) : valueFits(value, kind);
        const parsed = typeof value === "string" ? (text && value !== "" ? parsedText(value) : undefined) : value;
        // a best-of-N row's list of whole numbers is someone's labels too
        const whole = (n: unknown) => typeof n === "number" && Number.isInteger(n);
        const label = Array.isArray(parsed) ? parsed.length > 0 && parsed.every(whole) : whole(parsed);
        return fits && !(name.replace(/^(nemoreward_)+/, "") === reward && label);
    };
}

/** A CSV/TSV cell's text as the number or JSON list it holds (else NaN). */
function parsedText(text: string): unknown {
    if (!text.startsWith("[")) return Number(text);
    try {
        return JSON.parse(text);
    } catch {
        return Number.NaN;
    }
}

/** Whether a CSV/TSV cell's text is what the tool writes in a field of this kind (an empty cell always is). */
function textFits(text: string, kind: FieldKind): boolean {
    if (text === "" || kind === "string") return true;
    switch (kind) {
        case "double": return /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(text);
        case "integer": return /^-?\d+$/.test(text);
        case "boolean": return text === "true" || text === "false";
        default:
            try {
                return valueFits(JSON.parse(text), kind);
            } catch {
                return false;
            }
    }
}

/** Tells, once per name, that a field of the tool's went under another name than its own. */
export function renameReporter(warn: (message: string) => void): (own: OwnNames, where: string) => void {
    const reported = new Set<string>();
    return (own, where) => {
        for (const [name, used] of own.rename) {
            if (name === used || reported.has(name)) continue;
            reported.add(name);
            warn(`${where}: the input has a field "${name}" of its own, kept as it is; nemoreward's "${name}" goes in "${used}"`);
        }
    };
}

/**
 * The column of a record that holds the tool's field `name` as a run of the tool named it: the most prefixed
 * `nemoreward_NAME` present (the record had a `NAME` of its own beside it), else `NAME`. filter and pairs --scored
 * read a scored file's rewards from there, never from the user's own column of that name.
 */
export function toolColumn(record: Readonly<Record<string, unknown>>, name: string): string {
    let column = name;
    while (Object.hasOwn(record, `${ownPrefix}${column}`)) column = `${ownPrefix}${column}`;
    return column;
}

/**
 * The fields of a record that an earlier run of the tool wrote (`reward` names its reward fields, each of `kind`):
 * the own-name rule's `ours` (whole numbers where the reward goes are labels: the user's), less a field beside which
 * the same name more prefixed is the tool's (that one is the user's). Everything else in the record is the user's, whatever its name (`rank`, `z`, `dropped`, ...).
 */
export function toolWritten(record: Readonly<Record<string, unknown>>, reward: readonly string[], kind: FieldKind, text: boolean): Set<string> {
    const { ours } = ownNames(Object.keys(record), reward.map((name) => ({ name, kind })), { fits: recordFits(record, reward[0], text) });
    return new Set(ours.filter((name) => !ours.includes(`${ownPrefix}${name}`)));
}
