/** What the tool's field gets in front of its name when the input already has a field of that name. */
const prefix = "nemoreward_";

/** Fields the tool adds besides those of this run: what an earlier run may have left in a file it scored. */
const earlierNames = ["rank", "z", "error", "skipped", "truncated"];

export type OwnNames = {
    /** Each added field's name in the output: its own, or `nemoreward_NAME` when the input's row has a field NAME of its own. */
    rename: Map<string, string>;
    /**
     * The input's fields that an earlier run of the tool added (a scored file scored again): replaced in place, and
     * those this run gives no value become null (empty), as they no longer describe the row.
     */
    ours: string[];
};

/**
 * Where the tool's fields go in a row whose own fields are `names` (a CSV/TSV header, or a JSON record's keys).
 * A row that has this run's reward field (`added[0]`) was scored by nemoreward: from that field on, the fields named
 * like the tool's are the tool's, and get new values in place. Any other field named like one of the tool's is the
 * user's and stays as it is: the tool's then goes under `nemoreward_NAME`.
 */
export function ownNames(names: readonly string[], added: readonly string[]): OwnNames {
    const known = new Set([...added, ...earlierNames]);
    const bare = (name: string) => name.replace(/^(nemoreward_)+/, "");
    const start = added[0] === undefined ? -1 : names.indexOf(added[0]);
    const ours = start === -1 ? [] : names.slice(start).filter((name) => known.has(bare(name)));
    const rename = new Map<string, string>();
    for (const name of added) {
        // the most prefixed: a plain name beside it is the user's
        let own = ours.filter((other) => bare(other) === name).sort((a, b) => b.length - a.length)[0] ?? name;
        while (!ours.includes(own) && names.includes(own)) own = `${prefix}${own}`;
        rename.set(name, own);
    }
    return { rename, ours };
}

/** `fields` under the names `own` gives them, with the fields of an earlier run that this row does not set made null. */
export function renameFields(fields: Record<string, unknown>, own: OwnNames): Record<string, unknown> {
    const renamed: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(fields)) renamed[own.rename.get(name) ?? name] = value;
    for (const name of own.ours) renamed[name] ??= null;
    return renamed;
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
