// Prints "N passed, N failed" from vitest's JSON reports, one per run (CI runs
// the suite on two Node versions), added up: the line CI reads. A missing
// report counts as one failure, so a leg that never ran cannot pass unseen.
import { readFileSync } from 'node:fs';

const files = process.argv.length > 2 ? process.argv.slice(2) : ['.artifacts/vitest.json'];
let passed = 0;
let failed = 0;
let missing = false;
for (const file of files) {
  let report;
  try {
    report = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    console.log(`no test report at ${file}: ${err.message}`);
    failed += 1;
    missing = true;
    continue;
  }
  // A file that fails to load has no failed tests of its own: count it once.
  const failedHere = report.numFailedTests + (report.numFailedTestSuites > 0 && report.numFailedTests === 0 ? report.numFailedTestSuites : 0);
  if (files.length > 1) console.log(`${file}: ${report.numPassedTests} of ${report.numTotalTests} tests passed, ${failedHere} failed`);
  passed += report.numPassedTests;
  failed += failedHere;
}
console.log(`${passed} passed, ${failed} failed`);
if (missing) process.exit(1);
