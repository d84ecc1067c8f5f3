/**
 * Preloaded into a measured process (`node --import …/peak-rss.js`): at exit, writes the process's
 * peak resident set size in bytes (getrusage maxrss, all threads) and the CPU time it used, as
 * JSON, to $STATICS_BENCH_RSS_FILE.
 */
import { writeFileSync } from 'node:fs';

const file = process.env.STATICS_BENCH_RSS_FILE;
if (file) {
  process.on('exit', () => {
    const usage = process.resourceUsage();
    writeFileSync(file, JSON.stringify({ peakRssBytes: usage.maxRSS * 1024, cpuMs: Math.round((usage.userCPUTime + usage.systemCPUTime) / 1000) }));
  });
}
