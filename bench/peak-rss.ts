/**
 * Preloaded into a measured process (`node --import …/peak-rss.js`): at exit, writes the process's
 * peak resident set size in bytes (getrusage maxrss, all threads) to $STATICS_BENCH_RSS_FILE.
 */
import { writeFileSync } from 'node:fs';

const file = process.env.STATICS_BENCH_RSS_FILE;
if (file) {
  process.on('exit', () => {
    writeFileSync(file, String(process.resourceUsage().maxRSS * 1024));
  });
}
