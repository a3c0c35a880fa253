#!/usr/bin/env node
/**
 * The `celeriac` bin: runs one command (see run-cli.ts) and exits with its code.
 *
 * @module
 */
import { runCli } from './run-cli.ts';

const code = await runCli(process.argv.slice(2));
// Exit explicitly: a closed app may still hold a timer or socket for a moment.
process.exit(code);
