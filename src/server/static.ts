// Serves the dashboard's static files. Only files inside the directory are served, with a content type by
// extension; `/` is index.html.
import { readFile } from 'node:fs/promises'
import { extname, resolve, sep } from 'node:path'
import type { FastifyInstance } from 'fastify'

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
}

export function registerStatic(app: FastifyInstance, dir: string): void {
  const root = resolve(dir)
  const serve = async (path: string, reply: import('fastify').FastifyReply) => {
    const file = resolve(root, `.${path === '/' ? '/index.html' : path}`)
    const type = TYPES[extname(file)]
    if ((file !== root && !file.startsWith(root + sep)) || type === undefined) {
      return reply.code(404).send({ error: { code: 'SLUICE_ERR_NOT_FOUND', message: `no file ${path}` } })
    }
    try {
      const body = await readFile(file)
      return reply.header('content-type', type).header('cache-control', 'no-cache').send(body)
    } catch {
      return reply.code(404).send({ error: { code: 'SLUICE_ERR_NOT_FOUND', message: `no file ${path}` } })
    }
  }
  app.get('/', (_req, reply) => serve('/', reply))
  app.get('/dashboard/*', (req, reply) => serve(req.url.slice('/dashboard'.length).split('?')[0], reply))
}
