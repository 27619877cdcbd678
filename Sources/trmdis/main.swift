import TRMDIS
print("trmdis")
