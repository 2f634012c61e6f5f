import unittest

from app.server import greet


class GreetTest(unittest.TestCase):
    def test_greet(self) -> None:
        self.assertEqual(greet("alice"), "Hello, alice")


if __name__ == "__main__":
    unittest.main()
