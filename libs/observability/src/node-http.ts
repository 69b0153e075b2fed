/**
 * `node:http`'s `createServer`, taken from Node's own CommonJS exports: an ESM import of
 * `node:http` builds its namespace from every export, whose lazy getters load fetch's undici,
 * about 35 ms of each workload's boot, which a cold start waits for (issue #16). Workloads make
 * their HTTP servers with this.
 */
export const createHttpServer = process.getBuiltinModule('node:http').createServer;
