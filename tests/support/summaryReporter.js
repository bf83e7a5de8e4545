// Mocha's spec output, then one plain summary line that CI logs and people can grep:
// "<n> passed, <n> failed, <n> pending".
const Mocha = require("mocha");
const { EVENT_RUN_END } = Mocha.Runner.constants;

class SpecWithSummary extends Mocha.reporters.Spec {
    constructor(runner, options) {
        super(runner, options);
        runner.once(EVENT_RUN_END, () => {
            const s = this.stats;
            process.stdout.write(`\n${s.passes} passed, ${s.failures} failed, ${s.pending} pending\n`);
        });
    }
}

module.exports = SpecWithSummary;
