"""The MCP server (`oncall-agent mcp`): incidents, their evidence, hypotheses and actions as MCP tools for
assistants and other agents, over stdio or streamable HTTP; deciding an action only when settings `mcp` allow it,
through the same approval service as the HTTP API and the CLI. Composed by `bootstrap_mcp`."""
