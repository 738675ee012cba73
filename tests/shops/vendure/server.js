// A real Vendure for filebridge's tests: in-memory SQLite (sql.js), bearer tokens,
// no plugins. tests/shops/vendure.py starts it, seeds tax and zone data through
// the Admin API and reads the catalog back. Settings come from the environment:
//   VENDURE_PORT (0: any free port)   VENDURE_SUPERADMIN / VENDURE_SUPERADMIN_PASSWORD
// On success it prints one line "VENDURE READY <port>" to stdout.
process.env.VENDURE_DISABLE_TELEMETRY = 'true';
const { bootstrap, DefaultLogger, LogLevel } = require('@vendure/core');

const config = {
    apiOptions: {
        hostname: '127.0.0.1',
        port: Number(process.env.VENDURE_PORT || 0),
        adminApiPath: 'admin-api',
        shopApiPath: 'shop-api',
    },
    authOptions: {
        tokenMethod: 'bearer',
        superadminCredentials: {
            identifier: process.env.VENDURE_SUPERADMIN || 'superadmin',
            password: process.env.VENDURE_SUPERADMIN_PASSWORD || 'superadmin',
        },
    },
    // A fresh shop per run: the database lives in memory and is never written out.
    dbConnectionOptions: { type: 'sqljs', synchronize: true, autoSave: false, logging: false },
    paymentOptions: { paymentMethodHandlers: [] },
    logger: new DefaultLogger({ level: LogLevel.Error }),
    plugins: [],
};

bootstrap(config)
    .then(app => {
        const port = app.getHttpServer().address().port;
        process.stdout.write(`VENDURE READY ${port}\n`);
    })
    .catch(err => {
        console.error(err);
        process.exit(1);
    });
