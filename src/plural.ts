/** "1 row", "2 rows", "0 rows": a count and its noun, the noun plural unless the count is one (`many` when not just +s). */
export function plural(count: number, one: string, many = `${one}s`): string {
    return `${count} ${count === 1 ? one : many}`;
}
