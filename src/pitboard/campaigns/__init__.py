"""Campaigns: what marketing runs, with budgets and UTM names."""
