/**
 * Node flags for the proxy processes a bench starts, from BENCH_PROXY_NODE_ARGS,
 * e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile them.
 */
export const proxyExecArgv: readonly string[] = (process.env.BENCH_PROXY_NODE_ARGS ?? '').split(' ').filter(Boolean);
