// Entry point of the `ringside` command (bin/ringside imports this module).
import { main } from './cli.js';

process.exitCode = await main(process.argv.slice(2));
