import { useQuery, useQueryClient } from "@tanstack/react-query";
import type { User } from "@gen/trading/identity/v1/identity_pb";
import { userClient } from "../../api/userClient";

export const ME_KEY = ["me"] as const;

/** The signed-in user's account (UserService.GetMe), cached. */
export function useMe() {
  return useQuery({
    queryKey: ME_KEY,
    queryFn: async (): Promise<User> => {
      const res = await userClient.getMe({});
      if (!res.user) throw new Error("the server answered without the account");
      return res.user;
    },
  });
}

/** After a change that returns the account: put it in the cache. */
export function useSetMe() {
  const client = useQueryClient();
  return (user: User | undefined) => {
    if (user) client.setQueryData(ME_KEY, user);
    else void client.invalidateQueries({ queryKey: ME_KEY });
  };
}
