"""DynamoDB Streams to the SNS FIFO event bus, as normalized envelopes"""
