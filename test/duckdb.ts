import { DuckDBInstance, type DuckDBConnection } from "@duckdb/node-api";

let connection: Promise<DuckDBConnection> | undefined;

/**
 * Runs SQL in DuckDB (in memory, one thread so that files are read in row order): an independent Parquet reader and
 * writer for checking nemoreward's. Values come back as JSON (BIGINT, DECIMAL, DATE, TIMESTAMP and BLOB as text).
 */
export async function duck(sql: string): Promise<Record<string, any>[]> {
    connection ??= DuckDBInstance.create(":memory:", { threads: "1" }).then((db) => db.connect());
    const reader = await (await connection).runAndReadAll(sql);
    return reader.getRowObjectsJson() as Record<string, any>[];
}

/** Column names and DuckDB types of a Parquet file. */
export async function columnTypes(path: string): Promise<Record<string, string>> {
    const rows = await duck(`DESCRIBE SELECT * FROM '${path}'`);
    return Object.fromEntries(rows.map((r) => [r["column_name"], r["column_type"]]));
}
