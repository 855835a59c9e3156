"""The agent: a LangGraph state machine that understands each message, retrieves the shop's documents,
acts with the tools and answers, or hands the conversation to a human. (Filled by the agent issue.)"""
