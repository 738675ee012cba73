// A real Vendure for filebridge's tests: in-memory SQLite (sql.js), bearer tokens,
// no plugins; assets kept in memory; the custom fields a catalog needs (below). tests/shops/vendure.py starts it, seeds tax and zone data through
// the Admin API and reads the catalog back. Settings come from the environment:
//   VENDURE_PORT (0: any free port)   VENDURE_SUPERADMIN / VENDURE_SUPERADMIN_PASSWORD
// On success it prints one line "VENDURE READY <port>" to stdout.
process.env.VENDURE_DISABLE_TELEMETRY = 'true';
const { bootstrap, DefaultLogger, JobQueueService, LogLevel } = require('@vendure/core');
const { Readable } = require('stream');

// Vendure ships no asset storage (NoAssetStorageStrategy throws; the real one is
// @vendure/asset-server-plugin, which needs sharp). Files are kept in memory, like
// the database; the "preview" is the file itself.
class MemoryAssetStorage {
    constructor() { this.files = new Map(); }
    async writeFileFromBuffer(name, data) { this.files.set(name, Buffer.from(data)); return name; }
    async writeFileFromStream(name, stream) {
        const parts = [];
        for await (const chunk of stream) parts.push(Buffer.from(chunk));
        this.files.set(name, Buffer.concat(parts));
        return name;
    }
    async readFileToBuffer(id) { return this.files.get(id); }
    async readFileToStream(id) { return Readable.from([this.files.get(id)]); }
    async deleteFile(id) { this.files.delete(id); }
    async fileExists(name) { return this.files.has(name); }
}
class SameImagePreview {
    async generatePreviewImage(ctx, mimeType, data) { return data; }
}

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
    assetOptions: {
        assetStorageStrategy: new MemoryAssetStorage(),
        assetPreviewStrategy: new SameImagePreview(),
    },
    // What filebridge's vendure_api sink writes when the server has it (a real server
    // needs the same declarations): a barcode on each variant, and specifications
    // as translatable product fields named like the profile's attribute codes.
    customFields: {
        ProductVariant: [{ name: 'barcode', type: 'string' }],
        Product: [
            { name: 'composition', type: 'localeText' },
            { name: 'origin', type: 'string' },
        ],
    },
    logger: new DefaultLogger({ level: LogLevel.Error }),
    plugins: [],
};

bootstrap(config)
    .then(async app => {
        // Jobs (collection filters, among others) run in this process: a real
        // deployment runs them in a worker (bootstrapWorker).
        await app.get(JobQueueService).start();
        const port = app.getHttpServer().address().port;
        process.stdout.write(`VENDURE READY ${port}\n`);
    })
    .catch(err => {
        console.error(err);
        process.exit(1);
    });
